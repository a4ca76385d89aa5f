/**
 * Every counter the lifecycle service keeps, in one place, so a Prometheus
 * endpoint can expose them as they are (counters only grow; `last*` are
 * gauges). Names follow `vigil_lifecycle_<name>`.
 */
export interface LifecycleMetrics {
  /** Runs that did their work. */
  runs: number;
  /** Runs skipped because another replica held the lock. */
  runsSkipped: number;
  /** Steps that failed (each is logged with its error). */
  failures: number;
  /** TimescaleDB policy jobs run by the lifecycle service (TimescaleDB's scheduler does not run them). */
  policyJobsRun: number;
  /** TimescaleDB jobs whose last run by TimescaleDB's scheduler failed (gauge; job_stats). */
  timescaleJobsFailed: number;
  /** Plain PostgreSQL: partitions created ahead, and ones created to take rows out of DEFAULT. */
  partitionsCreated: number;
  rowsMovedFromDefault: number;
  /** Plain PostgreSQL: hours of rollups recomputed because their raw rows changed. */
  rollupHoursRecomputed: number;
  /** Aggregate rows dropped by retention (plain PostgreSQL; TimescaleDB's policy drops chunks). */
  rollupRowsDropped: number;
  /** Chunks/partitions archived, verified and dropped, with their rows and bytes. */
  unitsArchived: number;
  rowsArchived: number;
  bytesArchived: number;
  /** Chunks/partitions past retention kept because no archive is configured or they are held (gauge). */
  unitsKept: number;
  /** Robot maintenance forecasts computed and stored (every component of every robot, each run). */
  forecastsComputed: number;
  /** Components due or overdue for maintenance at the last forecast run (gauge). */
  forecastsDue: number;
  /** Duration of the last forecast run (gauge, ms). */
  lastForecastRunMs: number;
  /** Dead letters deleted by retention (DEAD_LETTERS_RETENTION_MS). */
  deadLettersDeleted: number;
  /** Duration of the last run and when it ended (gauges, ms). */
  lastRunMs: number;
  lastRunEndedAtMs: number;
}

export function emptyMetrics(): LifecycleMetrics {
  return {
    runs: 0,
    runsSkipped: 0,
    failures: 0,
    policyJobsRun: 0,
    timescaleJobsFailed: 0,
    partitionsCreated: 0,
    rowsMovedFromDefault: 0,
    rollupHoursRecomputed: 0,
    rollupRowsDropped: 0,
    unitsArchived: 0,
    rowsArchived: 0,
    bytesArchived: 0,
    unitsKept: 0,
    forecastsComputed: 0,
    forecastsDue: 0,
    lastForecastRunMs: 0,
    deadLettersDeleted: 0,
    lastRunMs: 0,
    lastRunEndedAtMs: 0,
  };
}

import { metricsRegistry } from "@vigil/telemetry";
import { Counter, Gauge } from "prom-client";
import type { LifecycleMetrics } from "./lifecycle-metrics.ts";

const sources = new Set<Readonly<LifecycleMetrics>>();
let registered = false;

/**
 * Exposes a lifecycle service's counters as vigil_lifecycle_* Prometheus metrics
 * (read at scrape time from the one place they are kept) until the returned
 * function is called.
 */
export function exposeLifecycleMetrics(metrics: Readonly<LifecycleMetrics>): () => void {
  sources.add(metrics);
  if (!registered) register();
  return () => sources.delete(metrics);
}

const sum = (pick: (m: Readonly<LifecycleMetrics>) => number) => {
  let total = 0;
  for (const m of sources) total += pick(m);
  return total;
};

function register(): void {
  registered = true;
  const registers = [metricsRegistry()];
  const counters: Array<[string, string, (m: Readonly<LifecycleMetrics>) => number]> = [
    ["vigil_lifecycle_runs_total", "Lifecycle runs that did their work.", (m) => m.runs],
    ["vigil_lifecycle_runs_skipped_total", "Runs skipped because another replica held the lock.", (m) => m.runsSkipped],
    ["vigil_lifecycle_failures_total", "Lifecycle steps that failed (each is logged).", (m) => m.failures],
    [
      "vigil_lifecycle_policy_jobs_total",
      "TimescaleDB policy jobs run by the lifecycle service.",
      (m) => m.policyJobsRun,
    ],
    ["vigil_lifecycle_partitions_created_total", "Plain PostgreSQL partitions created.", (m) => m.partitionsCreated],
    [
      "vigil_lifecycle_rows_moved_from_default_total",
      "Rows moved out of the DEFAULT partition.",
      (m) => m.rowsMovedFromDefault,
    ],
    [
      "vigil_lifecycle_rollup_hours_recomputed_total",
      "Hours of rollups recomputed after raw rows changed.",
      (m) => m.rollupHoursRecomputed,
    ],
    ["vigil_lifecycle_rollup_rows_dropped_total", "Aggregate rows dropped by retention.", (m) => m.rollupRowsDropped],
    [
      "vigil_lifecycle_dead_letters_deleted_total",
      "Dead letters deleted by retention (refused batches, replayed ones).",
      (m) => m.deadLettersDeleted,
    ],
    [
      "vigil_lifecycle_units_archived_total",
      "Chunks or partitions archived, verified and dropped.",
      (m) => m.unitsArchived,
    ],
    ["vigil_lifecycle_rows_archived_total", "Rows archived to cold storage.", (m) => m.rowsArchived],
    ["vigil_lifecycle_archived_bytes_total", "Bytes of Parquet written to cold storage.", (m) => m.bytesArchived],
    [
      "vigil_lifecycle_forecasts_total",
      "Robot maintenance forecasts computed (one per robot and component per run).",
      (m) => m.forecastsComputed,
    ],
  ];
  for (const [name, help, pick] of counters) {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(sum(pick));
      },
    });
  }
  const gauges: Array<[string, string, (m: Readonly<LifecycleMetrics>) => number]> = [
    [
      "vigil_lifecycle_units_kept",
      "Chunks past retention kept: no archive configured, or held by a restore.",
      (m) => m.unitsKept,
    ],
    [
      "vigil_lifecycle_timescaledb_jobs_failed",
      "TimescaleDB jobs whose last run by TimescaleDB's scheduler failed (job_stats).",
      (m) => m.timescaleJobsFailed,
    ],
    ["vigil_lifecycle_last_run_duration_seconds", "Duration of the last run.", (m) => m.lastRunMs / 1000],
    [
      "vigil_lifecycle_forecasts_due",
      "Robot components due or overdue for maintenance at the last forecast run.",
      (m) => m.forecastsDue,
    ],
    [
      "vigil_lifecycle_last_forecast_run_duration_seconds",
      "Duration of the last forecast run.",
      (m) => m.lastForecastRunMs / 1000,
    ],
    [
      "vigil_lifecycle_last_run_end_timestamp_seconds",
      "When the last run ended (Unix time).",
      (m) => m.lastRunEndedAtMs / 1000,
    ],
  ];
  for (const [name, help, pick] of gauges) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(Math.max(0, ...[...sources].map(pick)));
      },
    });
  }
}

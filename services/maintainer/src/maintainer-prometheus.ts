import { metricsRegistry } from "@vigil/telemetry";
import { Counter, Gauge } from "prom-client";
import type { MaintenanceMetrics } from "./maintenance-metrics.ts";

const sources = new Set<Readonly<MaintenanceMetrics>>();
let registered = false;

/**
 * Exposes a maintainer's counters as vigil_maintainer_* Prometheus metrics
 * (read at scrape time from the one place they are kept) until the returned
 * function is called.
 */
export function exposeMaintenanceMetrics(metrics: Readonly<MaintenanceMetrics>): () => void {
  sources.add(metrics);
  if (!registered) register();
  return () => sources.delete(metrics);
}

const sum = (pick: (m: Readonly<MaintenanceMetrics>) => number) => {
  let total = 0;
  for (const m of sources) total += pick(m);
  return total;
};

function register(): void {
  registered = true;
  const registers = [metricsRegistry()];
  const counters: Array<[string, string, (m: Readonly<MaintenanceMetrics>) => number]> = [
    ["vigil_maintainer_runs_total", "Maintenance runs that did their work.", (m) => m.runs],
    [
      "vigil_maintainer_runs_skipped_total",
      "Runs skipped because another replica held the lock.",
      (m) => m.runsSkipped,
    ],
    ["vigil_maintainer_failures_total", "Maintenance steps that failed (each is logged).", (m) => m.failures],
    ["vigil_maintainer_policy_jobs_total", "TimescaleDB policy jobs run by the maintainer.", (m) => m.policyJobsRun],
    ["vigil_maintainer_partitions_created_total", "Plain PostgreSQL partitions created.", (m) => m.partitionsCreated],
    [
      "vigil_maintainer_rows_moved_from_default_total",
      "Rows moved out of the DEFAULT partition.",
      (m) => m.rowsMovedFromDefault,
    ],
    [
      "vigil_maintainer_rollup_hours_recomputed_total",
      "Hours of rollups recomputed after raw rows changed.",
      (m) => m.rollupHoursRecomputed,
    ],
    ["vigil_maintainer_rollup_rows_dropped_total", "Aggregate rows dropped by retention.", (m) => m.rollupRowsDropped],
    [
      "vigil_maintainer_dead_letters_deleted_total",
      "Dead letters deleted by retention (refused batches, replayed ones).",
      (m) => m.deadLettersDeleted,
    ],
    [
      "vigil_maintainer_units_archived_total",
      "Chunks or partitions archived, verified and dropped.",
      (m) => m.unitsArchived,
    ],
    ["vigil_maintainer_rows_archived_total", "Rows archived to cold storage.", (m) => m.rowsArchived],
    ["vigil_maintainer_archived_bytes_total", "Bytes of Parquet written to cold storage.", (m) => m.bytesArchived],
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
  const gauges: Array<[string, string, (m: Readonly<MaintenanceMetrics>) => number]> = [
    [
      "vigil_maintainer_units_kept",
      "Chunks past retention kept: no archive configured, or held by a restore.",
      (m) => m.unitsKept,
    ],
    [
      "vigil_maintainer_timescaledb_jobs_failed",
      "TimescaleDB jobs whose last run by TimescaleDB's scheduler failed (job_stats).",
      (m) => m.timescaleJobsFailed,
    ],
    ["vigil_maintainer_last_run_duration_seconds", "Duration of the last run.", (m) => m.lastRunMs / 1000],
    [
      "vigil_maintainer_last_run_end_timestamp_seconds",
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

import { type ArchiveStore, archiveAndDropUnit, exportAuditHead } from "@vigil/archive";
import {
  failedJobs,
  type LifecycleSettings,
  listPolicyJobs,
  listReadingUnits,
  maintainPartitions,
  pruneDeadLetters,
  type ReadingUnit,
  recomputeRollups,
  refreshAggregatesNow,
  refreshRollups,
  refreshWindowMs,
  runPolicyJob,
  sql,
  type VigilDatabase,
} from "@vigil/db";
import { type ForecastSettings, recomputeForecasts } from "@vigil/maintenance";
import type { Logger } from "@vigil/runtime";
import type { LifecycleMetrics } from "./lifecycle-metrics.ts";
import { syncMaintenanceDueAlerts } from "./maintenance-due-alerts.ts";

/** Session advisory lock held by the replica that runs the lifecycle: "VIGM" (kept from before the rename, so old and new replicas exclude each other during an upgrade). */
export const LIFECYCLE_LOCK = 0x5649474d;

export interface LifecycleContext {
  database: VigilDatabase;
  timescale: boolean;
  settings: LifecycleSettings;
  /** Where raw data goes before it is dropped; undefined: nothing is dropped. */
  store: ArchiveStore | undefined;
  log: Logger;
  metrics: LifecycleMetrics;
  /** When each TimescaleDB policy job last ran here (job id → ms). */
  lastJobRuns: Map<number, number>;
  /** Robot maintenance forecasts, recomputed every intervalMs (0: never); lastRunMs is kept here. */
  forecasts?: { settings: ForecastSettings; intervalMs: number; lastRunMs?: number };
  /** Dead letters older than this are deleted (see pruneDeadLetters). */
  deadLetterRetentionMs: number;
}

export interface RunOptions {
  nowMs?: number;
  /** Run every TimescaleDB policy job now, due or not. */
  allJobs?: boolean;
}

/**
 * One lifecycle run, by at most one replica at a time (PostgreSQL advisory
 * lock; the embedded database has a single process anyway). Steps, each
 * isolated so one failing does not stop the others:
 * - TimescaleDB: run the due policy jobs (refresh aggregates, compress,
 *   aggregate retention, job-history retention): TimescaleDB's own scheduler
 *   does not (migration 0011 says why); and report jobs whose scheduler runs
 *   failed.
 * - Plain PostgreSQL: partitions ahead and out of DEFAULT, rollup refresh.
 * - Both: raw retention — archive, verify, then drop each chunk/partition
 *   past READINGS_RETENTION_MS that is not held by a restore.
 * - Plain PostgreSQL: rollup retention.
 * - Both: robot maintenance forecasts (every FORECAST_INTERVAL_MS) and the
 *   "maintenance due" alerts that follow them (every run).
 * - With an archive: the audit chain's head, once a day (audit-heads/).
 * - Both: dead-letter retention (refused batches; never an unreplayed writer dead letter).
 * Returns false when another replica holds the lock.
 */
export async function runLifecycle(ctx: LifecycleContext, options: RunOptions = {}): Promise<boolean> {
  const { database } = ctx;
  if (database.engine === "embedded") {
    await steps(ctx, options);
    return true;
  }
  // The lock lives on one reserved connection; the steps use the pool.
  return database.db.connection().execute(async (conn) => {
    const { rows } = await sql<{ got: boolean }>`SELECT pg_try_advisory_lock(${LIFECYCLE_LOCK}) AS got`.execute(conn);
    if (!rows[0]?.got) {
      ctx.metrics.runsSkipped++;
      ctx.log.debug("lifecycle run skipped: another replica holds the lock");
      return false;
    }
    try {
      await steps(ctx, options);
      return true;
    } finally {
      await sql`SELECT pg_advisory_unlock(${LIFECYCLE_LOCK})`.execute(conn);
    }
  });
}

async function steps(ctx: LifecycleContext, options: RunOptions): Promise<void> {
  const started = performance.now();
  const nowMs = options.nowMs ?? Date.now();
  const summary: Record<string, unknown> = {};
  const step = async (name: string, fn: () => Promise<unknown>) => {
    try {
      const result = await fn();
      if (result !== undefined) summary[name] = result;
    } catch (err) {
      ctx.metrics.failures++;
      summary[name] = "failed";
      ctx.log.error({ err, step: name }, "lifecycle step failed");
    }
  };
  if (ctx.timescale) {
    await step("policyJobs", () => runPolicyJobs(ctx, nowMs, options.allJobs === true));
    await step("failedJobs", () => reportFailedJobs(ctx));
  } else {
    await step("partitions", async () => {
      const out = await maintainPartitions(ctx.database.db, nowMs);
      const moved = out.adopted.reduce((n, a) => n + a.rows, 0);
      ctx.metrics.partitionsCreated += out.created.length + out.adopted.length;
      ctx.metrics.rowsMovedFromDefault += moved;
      return out.created.length + out.adopted.length > 0
        ? { created: out.created, adopted: out.adopted.map((a) => a.name), moved }
        : undefined;
    });
    await step("rollups", async () => {
      const out = await refreshRollups(ctx.database.db, { nowMs, windowMs: refreshWindowMs(ctx.settings) });
      ctx.metrics.rollupHoursRecomputed += out.invalidatedHours;
      return out.invalidatedHours > 0 ? { recomputedHours: out.invalidatedHours } : undefined;
    });
  }
  await step("retention", () => retention(ctx, nowMs));
  // The audit chain's head leaves the database once a day, for `vigil audit verify --archive`.
  const store = ctx.store;
  if (store) await step("auditHead", () => exportAuditHead(ctx.database.db, store, nowMs));
  // After raw retention: the final refresh of an archived range may roll up
  // minutes that are already past their own retention.
  if (!ctx.timescale) {
    await step("rollupRetention", async () => {
      let dropped = 0;
      for (const [table, keep] of [
        ["readings_1m_rollup", ctx.settings.aggregates1mRetentionMs],
        ["readings_1h_rollup", ctx.settings.aggregates1hRetentionMs],
        ["readings_1h_fleet_rollup", ctx.settings.aggregates1hRetentionMs],
      ] as const) {
        const result = await sql`DELETE FROM ${sql.table(table)} WHERE bucket < ${new Date(nowMs - keep)}`.execute(
          ctx.database.db,
        );
        dropped += Number(result.numAffectedRows ?? 0);
      }
      ctx.metrics.rollupRowsDropped += dropped;
      return dropped > 0 ? { droppedRows: dropped } : undefined;
    });
  }
  const forecasts = ctx.forecasts;
  if (forecasts && forecasts.intervalMs > 0 && nowMs - (forecasts.lastRunMs ?? 0) >= forecasts.intervalMs) {
    await step("forecasts", async () => {
      const out = await recomputeForecasts(ctx.database.db, forecasts.settings, { nowMs });
      forecasts.lastRunMs = nowMs;
      ctx.metrics.forecastsComputed += out.forecasts;
      ctx.metrics.forecastsDue = out.byStatus.due + out.byStatus.overdue;
      ctx.metrics.lastForecastRunMs = Math.round(out.durationMs);
      return { robots: out.devices, ...out.byStatus, ms: Math.round(out.durationMs) };
    });
  }
  if (forecasts) {
    // Every run, not only forecast runs: a maintenance record recomputes its robot's forecasts at
    // once (the query service), and its alert should clear within a run, not an hour.
    await step("maintenanceDueAlerts", async () => {
      const out = await syncMaintenanceDueAlerts(ctx.database.db, nowMs);
      return out.raised + out.resolved > 0 ? out : undefined;
    });
  }
  await step("deadLetters", async () => {
    const deleted = await pruneDeadLetters(ctx.database.db, ctx.deadLetterRetentionMs, nowMs);
    ctx.metrics.deadLettersDeleted += deleted;
    return deleted > 0 ? { deleted } : undefined;
  });
  ctx.metrics.runs++;
  ctx.metrics.lastRunMs = Math.round(performance.now() - started);
  ctx.metrics.lastRunEndedAtMs = Date.now();
  ctx.log.info({ ms: ctx.metrics.lastRunMs, ...summary }, "lifecycle run");
}

async function runPolicyJobs(ctx: LifecycleContext, nowMs: number, all: boolean) {
  const ran: string[] = [];
  for (const job of await listPolicyJobs(ctx.database.db)) {
    const last = ctx.lastJobRuns.get(job.id);
    if (!all && last !== undefined && nowMs - last < job.everyMs) continue;
    await runPolicyJob(ctx.database.db, job);
    ctx.lastJobRuns.set(job.id, nowMs);
    ctx.metrics.policyJobsRun++;
    ran.push(job.relation ? `${job.kind}:${job.relation}` : job.kind);
  }
  return ran.length > 0 ? ran : undefined;
}

/** Jobs TimescaleDB's scheduler still runs and that failed: a gauge, and a warning with the error. */
async function reportFailedJobs(ctx: LifecycleContext) {
  const failed = await failedJobs(ctx.database.db);
  ctx.metrics.timescaleJobsFailed = failed.length;
  if (failed.length === 0) return undefined;
  ctx.log.warn({ jobs: failed }, "TimescaleDB jobs failed in TimescaleDB's scheduler");
  return failed.map((j) => j.id);
}

interface DueUnit {
  unit: ReadingUnit;
  /** Holds restored rows: its aggregates date from before the restore and must not be recomputed. */
  restored: boolean;
}

/** Units past retention, minus those overlapping an active restore hold. */
async function dueUnits(ctx: LifecycleContext, nowMs: number): Promise<{ due: DueUnit[]; held: number }> {
  const cutoff = nowMs - ctx.settings.readingsRetentionMs;
  const old = (await listReadingUnits(ctx.database.db, ctx.timescale)).filter((u) => u.endMs <= cutoff);
  if (old.length === 0) return { due: [], held: 0 };
  const { rows } = await sql<{ start_ms: number; end_ms: number; active: boolean }>`
    SELECT (extract(epoch FROM range_start) * 1000)::float8 AS start_ms,
           (extract(epoch FROM range_end) * 1000)::float8 AS end_ms,
           hold_until > ${new Date(nowMs)} AS active
    FROM archive_holds`.execute(ctx.database.db);
  const overlapping = (u: ReadingUnit) =>
    rows.filter((h) => Number(h.start_ms) < u.endMs && Number(h.end_ms) > u.startMs);
  const due = old
    .filter((u) => !overlapping(u).some((h) => h.active))
    .map((unit) => ({ unit, restored: overlapping(unit).length > 0 }));
  return { due, held: old.length - due.length };
}

async function retention(ctx: LifecycleContext, nowMs: number) {
  const { due, held } = await dueUnits(ctx, nowMs);
  if (!ctx.store) {
    ctx.metrics.unitsKept = due.length + held;
    if (due.length > 0) {
      ctx.log.warn({ units: due.length }, "readings past retention are kept: no ARCHIVE_URL is configured");
    }
    return undefined;
  }
  const archived: string[] = [];
  let failed = 0;
  for (const { unit, restored } of due) {
    try {
      // The aggregates keep this range after the raw rows go: bring them to
      // its final state first (a partial restore would recompute them from
      // partial rows, so restored ranges keep the aggregates they had).
      const levels = (["1m", "1h"] as const).filter((l) => unit.endMs > nowMs - aggregateRetentionMs(ctx, l));
      if (!restored && levels.length > 0) {
        if (ctx.timescale) await refreshAggregatesNow(ctx.database.db, unit.startMs, unit.endMs, levels);
        else await recomputeRollups(ctx.database.db, unit.startMs, unit.endMs, levels);
      }
      const out = await archiveAndDropUnit(ctx.database.db, ctx.store, unit, {
        timescale: ctx.timescale,
        actor: "lifecycle",
        nowMs,
      });
      ctx.metrics.unitsArchived++;
      ctx.metrics.rowsArchived += out.rows;
      ctx.metrics.bytesArchived += out.bytes;
      archived.push(out.manifestKey);
      ctx.log.info({ unit: unit.relation, ...out }, "readings archived and dropped");
    } catch (err) {
      // Kept for the next run; the rest still go.
      failed++;
      ctx.metrics.failures++;
      ctx.log.error({ err, unit: unit.relation }, "archive failed: the chunk stays in the database");
    }
  }
  ctx.metrics.unitsKept = held + failed;
  return archived.length + failed + held > 0 ? { archived: archived.length, failed, held } : undefined;
}

function aggregateRetentionMs(ctx: LifecycleContext, level: "1m" | "1h"): number {
  return level === "1m" ? ctx.settings.aggregates1mRetentionMs : ctx.settings.aggregates1hRetentionMs;
}

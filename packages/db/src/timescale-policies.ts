import { type Kysely, sql } from "kysely";
import { intervalLiteral, type LifecycleSettings, refreshWindowMs } from "./lifecycle-settings.ts";
import type { Database } from "./schema.ts";

/**
 * A TimescaleDB job the lifecycle service runs (migration 0011 took them off
 * TimescaleDB's scheduler): a policy on readings or its aggregates, or
 * TimescaleDB's own pruning of its job history.
 */
export interface PolicyJob {
  id: number;
  kind: "refresh" | "compression" | "retention" | "history";
  /** readings, readings_1m, readings_1h or readings_1h_fleet; "" for the job history. */
  relation: string;
  everyMs: number;
}

const KINDS: Record<string, PolicyJob["kind"]> = {
  policy_refresh_continuous_aggregate: "refresh",
  policy_compression: "compression",
  policy_retention: "retention",
  policy_job_stat_history_retention: "history",
};

// Aggregates refresh before compression and retention run, finest first.
const ORDER = [
  "refresh:readings_1m",
  "refresh:readings_1h",
  "refresh:readings_1h_fleet",
  "compression:readings",
  "retention:readings_1m",
  "retention:readings_1h",
  "retention:readings_1h_fleet",
  "history:",
];

/** The jobs migrations 0004, 0011 and 0012 left to the lifecycle service, in the order a run should take them. */
export async function listPolicyJobs(db: Kysely<Database>): Promise<PolicyJob[]> {
  const { rows } = await sql<{ id: number; proc: string; relation: string | null; every_ms: number }>`
    SELECT job_id AS id, proc_name AS proc, hypertable_name AS relation,
           (extract(epoch FROM schedule_interval) * 1000)::float8 AS every_ms
    FROM timescaledb_information.jobs
    WHERE (proc_name IN ('policy_refresh_continuous_aggregate', 'policy_compression', 'policy_retention')
           AND hypertable_name IN ('readings', 'readings_1m', 'readings_1h', 'readings_1h_fleet'))
       OR (proc_name = 'policy_job_stat_history_retention' AND NOT scheduled)`.execute(db);
  const jobs = rows.map((r) => ({
    id: Number(r.id),
    kind: KINDS[r.proc]!,
    relation: r.relation ?? "",
    everyMs: Number(r.every_ms),
  }));
  const rank = (j: PolicyJob) => {
    const i = ORDER.indexOf(`${j.kind}:${j.relation}`);
    return i === -1 ? ORDER.length : i;
  };
  return jobs.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
}

/** A TimescaleDB job whose last run by TimescaleDB's scheduler failed. */
export interface FailedJob {
  id: number;
  name: string;
  failures: number;
  /** The newest error TimescaleDB recorded for it, when it kept one. */
  error: string | null;
}

/**
 * Jobs whose last scheduler run failed, from timescaledb_information.job_stats,
 * with their newest error from job_errors. Empty where the lifecycle service runs
 * every job (its runs are not recorded there); a job put back on the
 * scheduler on a PostgreSQL it cannot run on shows up here.
 */
export async function failedJobs(db: Kysely<Database>): Promise<FailedJob[]> {
  const { rows } = await sql<{ id: number; name: string; failures: number; error: string | null }>`
    SELECT s.job_id AS id, j.application_name AS name, s.total_failures::int AS failures,
           (SELECT e.err_message FROM timescaledb_information.job_errors e
            WHERE e.job_id = s.job_id ORDER BY e.finish_time DESC NULLS LAST LIMIT 1) AS error
    FROM timescaledb_information.job_stats s
    JOIN timescaledb_information.jobs j USING (job_id)
    WHERE s.last_run_status = 'Failed'
    ORDER BY s.job_id`.execute(db);
  return rows.map((r) => ({ id: Number(r.id), name: r.name, failures: Number(r.failures), error: r.error }));
}

/** Runs one policy job now, in the foreground. */
export async function runPolicyJob(db: Kysely<Database>, job: PolicyJob): Promise<void> {
  await sql`CALL run_job(${job.id})`.execute(db);
}

/**
 * Brings the policies' settings in line with the configuration (the
 * migration installed the defaults): compression age, refresh window and
 * aggregate retention. Returns what changed, for the log.
 */
export async function reconcilePolicies(db: Kysely<Database>, settings: LifecycleSettings): Promise<string[]> {
  const wanted: Array<{ kind: PolicyJob["kind"]; relation: string; key: string; ms: number }> = [
    { kind: "compression", relation: "readings", key: "compress_after", ms: settings.compressAfterMs },
    { kind: "refresh", relation: "readings_1m", key: "start_offset", ms: refreshWindowMs(settings) },
    { kind: "refresh", relation: "readings_1h", key: "start_offset", ms: refreshWindowMs(settings) },
    { kind: "refresh", relation: "readings_1h_fleet", key: "start_offset", ms: refreshWindowMs(settings) },
    { kind: "retention", relation: "readings_1m", key: "drop_after", ms: settings.aggregates1mRetentionMs },
    { kind: "retention", relation: "readings_1h", key: "drop_after", ms: settings.aggregates1hRetentionMs },
    { kind: "retention", relation: "readings_1h_fleet", key: "drop_after", ms: settings.aggregates1hRetentionMs },
  ];
  const jobs = await listPolicyJobs(db);
  const changed: string[] = [];
  for (const w of wanted) {
    const job = jobs.find((j) => j.kind === w.kind && j.relation === w.relation);
    if (!job) continue;
    const interval = intervalLiteral(w.ms);
    const { rows } = await sql<{ same: boolean }>`
      SELECT coalesce((config ->> ${w.key})::interval = ${interval}::interval, false) AS same
      FROM timescaledb_information.jobs WHERE job_id = ${job.id}`.execute(db);
    if (rows[0]?.same) continue;
    await sql`
      SELECT alter_job(${job.id}, config => jsonb_set(config, ${`{${w.key}}`}::text[], to_jsonb(${interval}::text)))
      FROM timescaledb_information.jobs WHERE job_id = ${job.id}`.execute(db);
    changed.push(`${w.kind} ${w.relation} ${w.key} = ${interval}`);
  }
  return changed;
}

/**
 * Refreshes the continuous aggregates over [startMs, endMs) now (outside
 * any transaction: TimescaleDB commits as it goes); with "1h" the fleet-wide
 * hourly one after it, which is built on it. The lifecycle service calls it
 * before a chunk leaves, so the aggregates hold its final state even where
 * no refresh policy window reached. `levels`: the aggregates to refresh (one
 * already past its own retention is left out).
 */
export async function refreshAggregatesNow(
  db: Kysely<Database>,
  startMs: number,
  endMs: number,
  levels: ReadonlyArray<"1m" | "1h"> = ["1m", "1h"],
): Promise<void> {
  const views = levels.flatMap((l) => (l === "1h" ? ["readings_1h", "readings_1h_fleet"] : [`readings_${l}`]));
  for (const view of views) {
    await sql`CALL refresh_continuous_aggregate(${view}, ${new Date(startMs)}::timestamptz, ${new Date(endMs)}::timestamptz)`.execute(
      db,
    );
  }
}

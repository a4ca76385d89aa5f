import { type Kysely, sql } from "kysely";
import { intervalLiteral, type LifecycleSettings, refreshWindowMs } from "./lifecycle-settings.ts";
import type { Database } from "./schema.ts";

/** A TimescaleDB policy job on readings or its aggregates. */
export interface PolicyJob {
  id: number;
  kind: "refresh" | "compression" | "retention";
  /** readings, readings_1m or readings_1h. */
  relation: string;
  everyMs: number;
}

const KINDS: Record<string, PolicyJob["kind"]> = {
  policy_refresh_continuous_aggregate: "refresh",
  policy_compression: "compression",
  policy_retention: "retention",
};

// Aggregates refresh before compression and retention run, finest first.
const ORDER = [
  "refresh:readings_1m",
  "refresh:readings_1h",
  "compression:readings",
  "retention:readings_1m",
  "retention:readings_1h",
];

/** The policy jobs migration 0004 installed, in the order a run should take them. */
export async function listPolicyJobs(db: Kysely<Database>): Promise<PolicyJob[]> {
  const { rows } = await sql<{ id: number; proc: string; relation: string; every_ms: number }>`
    SELECT job_id AS id, proc_name AS proc, hypertable_name AS relation,
           (extract(epoch FROM schedule_interval) * 1000)::float8 AS every_ms
    FROM timescaledb_information.jobs
    WHERE proc_name IN ('policy_refresh_continuous_aggregate', 'policy_compression', 'policy_retention')
      AND hypertable_name IN ('readings', 'readings_1m', 'readings_1h')`.execute(db);
  const jobs = rows.map((r) => ({
    id: Number(r.id),
    kind: KINDS[r.proc]!,
    relation: r.relation,
    everyMs: Number(r.every_ms),
  }));
  const rank = (j: PolicyJob) => {
    const i = ORDER.indexOf(`${j.kind}:${j.relation}`);
    return i === -1 ? ORDER.length : i;
  };
  return jobs.sort((a, b) => rank(a) - rank(b) || a.id - b.id);
}

/**
 * True when TimescaleDB's background scheduler runs the policies itself
 * (a server with timescaledb in shared_preload_libraries). The embedded
 * build has no background workers: there the lifecycle service runs them.
 */
export async function timescaleSchedulerRunning(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ running: boolean }>`
    SELECT EXISTS (
      SELECT 1 FROM pg_stat_activity
      WHERE backend_type ILIKE 'TimescaleDB Background Worker Scheduler%'
         OR application_name ILIKE 'TimescaleDB Background Worker Scheduler%'
    ) AS running`.execute(db);
  return rows[0]?.running === true;
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
    { kind: "retention", relation: "readings_1m", key: "drop_after", ms: settings.aggregates1mRetentionMs },
    { kind: "retention", relation: "readings_1h", key: "drop_after", ms: settings.aggregates1hRetentionMs },
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
 * Refreshes both continuous aggregates over [startMs, endMs) now (outside
 * any transaction: TimescaleDB commits as it goes). The lifecycle service calls it
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
  for (const view of levels.map((l) => `readings_${l}`)) {
    await sql`CALL refresh_continuous_aggregate(${view}, ${new Date(startMs)}::timestamptz, ${new Date(endMs)}::timestamptz)`.execute(
      db,
    );
  }
}

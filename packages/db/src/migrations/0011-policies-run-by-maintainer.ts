import { type Kysely, sql } from "kysely";

/**
 * TimescaleDB's background scheduler stops running the policy jobs; the
 * lifecycle service (then named maintainer) runs them (`CALL run_job`) on their schedules instead.
 *
 * Why: when the scheduler runs a job, TimescaleDB (2.23 to at least 2.28)
 * creates a portal for it (`CreatePortal`, left in state PORTAL_NEW), runs the
 * policy, commits, then drops the portal. PostgreSQL 15.20's `PortalDrop`
 * (not 15.18's; other branches' current releases were not checked) refuses a
 * portal that was never started: "cannot drop portal "" while it is being set
 * up". So there every scheduler run of every job does its work and then is
 * recorded as Failed in timescaledb_information.job_stats, with an ERROR in
 * the server log, and is retried early. `CALL run_job(id)` from a session runs
 * inside the session's active portal, creates none, and succeeds on every
 * PostgreSQL release: so the lifecycle service, which already ran them where there
 * is no scheduler (the embedded build), runs them everywhere.
 *
 * Covered: Vigil's refresh, compression and retention policies, and
 * TimescaleDB's own job-history retention (which fails the same way and would
 * otherwise never prune its error log). Only jobs this role may alter.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await setScheduled(db, false);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await setScheduled(db, true);
}

async function setScheduled(db: Kysely<unknown>, scheduled: boolean): Promise<void> {
  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  if (!rows[0]?.present) return;
  await sql`
    SELECT alter_job(job_id, scheduled => ${scheduled})
    FROM timescaledb_information.jobs
    WHERE ((proc_name IN ('policy_refresh_continuous_aggregate', 'policy_compression', 'policy_retention')
            AND hypertable_name IN ('readings', 'readings_1m', 'readings_1h'))
           OR proc_name = 'policy_job_stat_history_retention')
      AND pg_has_role(current_user, owner, 'USAGE')`.execute(db);
}

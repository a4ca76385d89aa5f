import { type ArchiveManifest, type ArchiveStore, openArchiveStore, restoreReadings } from "@vigil/archive";
import {
  DAY_MS,
  type Database,
  failedJobs,
  HOUR_MS,
  type Kysely,
  listReadingUnits,
  migrateToLatest,
  openDatabase,
  readingStats,
  sql,
  type VigilDatabase,
} from "@vigil/db";
import { createLogger } from "@vigil/runtime";
import { createTestDatabase, type S3Server, startS3, timescaleServer, waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLifecycleApp, type LifecycleApp } from "./app.ts";
import { loadLifecycleConfig } from "./config.ts";
import { LIFECYCLE_LOCK } from "./lifecycle-run.ts";

const RETENTION_DAYS = 30;
const AGGREGATES_1M_DAYS = 33;
const SENSORS = ["motor.temp_c", "arm.torque_nm"];

/** Every column of the readings in [from, to), exact to the microsecond, in key order. */
async function snapshot(db: Kysely<Database>, fromMs: number, toMs: number) {
  const us = (c: string) => sql.raw(`(extract(epoch FROM r.${c}) * 1000000)::bigint::text`);
  const { rows } = await sql<Record<string, unknown>>`
    SELECT d.code, d.number, s.name AS sensor, ${us("time")} AS time, r.value, r.seq::text AS seq,
           ${us("received_at")} AS received_at, ${us("updated_at")} AS updated_at, ${us("deleted_at")} AS deleted_at
    FROM readings r JOIN devices d ON d.id = r.device_id JOIN sensors s ON s.id = r.sensor_id
    WHERE r.time >= ${new Date(fromMs)} AND r.time < ${new Date(toMs)}
    ORDER BY d.code, d.number, s.name, r.time`.execute(db);
  return rows;
}

async function seed(db: Kysely<Database>, fromMs: number, toMs: number, stepMs: number) {
  for (const number of [1, 2]) {
    await sql`INSERT INTO devices (code, number) VALUES ('OR', ${number}) ON CONFLICT DO NOTHING`.execute(db);
  }
  for (const name of SENSORS) await sql`INSERT INTO sensors (name) VALUES (${name}) ON CONFLICT DO NOTHING`.execute(db);
  await sql`
    INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
    SELECT t, round((20 + 10 * sin(extract(epoch FROM t) / 3600 + d.number + s.id))::numeric, 3),
           (extract(epoch FROM t) / 60)::bigint, t + interval '1.234567 seconds', d.id, s.id
    FROM generate_series(${new Date(fromMs)}::timestamptz, ${new Date(toMs)}::timestamptz - interval '1 microsecond',
                         ${`${stepMs / 1000} seconds`}::interval) AS t,
         devices d, sensors s
    ON CONFLICT DO NOTHING`.execute(db);
}

/** A store whose downloads come back corrupted: verification must fail. */
function corrupting(store: ArchiveStore): ArchiveStore {
  return {
    location: store.location,
    putFile: (k, p) => store.putFile(k, p),
    putText: (k, t) => store.putText(k, t),
    getText: (k) => store.getText(k),
    list: (p) => store.list(p),
    getFile: async (k, p) => {
      await store.getFile(k, p);
      const { appendFile } = await import("node:fs/promises");
      await appendFile(p, "x");
    },
  };
}

const server = timescaleServer(inject("timescaleUrl"));
const engines = [
  { name: "embedded TimescaleDB", timescale: true, embedded: true, url: async () => "embedded:memory", skip: "" },
  {
    name: "TimescaleDB 2.23 server",
    timescale: true,
    embedded: false,
    url: () => server.createDatabase("lifecycle"),
    skip: server.skipReason,
  },
  {
    name: "PostgreSQL 15",
    timescale: false,
    embedded: false,
    url: () => createTestDatabase(inject("postgresUrl"), "lifecycle"),
    skip: "",
  },
];

for (const { name, timescale, embedded, url, skip } of engines)
  describe.skipIf(skip !== "")(`readings lifecycle on ${name}${skip && ` (${skip})`}`, () => {
    let database: VigilDatabase;
    let s3: S3Server;
    let store: ArchiveStore;
    let lifecycle: LifecycleApp;
    const now = Date.now();
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const cutoff = now - RETENTION_DAYS * DAY_MS;
    // Whole days only: what retention drops is every unit that ends before the cutoff.
    const droppedBefore = Math.floor(cutoff / DAY_MS) * DAY_MS;
    const seedFrom = today - 36 * DAY_MS;
    let archivedRows: Record<string, unknown>[];

    const app = (overrides: { store?: ArchiveStore } = {}) =>
      createLifecycleApp(
        loadLifecycleConfig({
          READINGS_RETENTION_MS: String(RETENTION_DAYS * DAY_MS),
          READINGS_COMPRESS_AFTER_MS: String(2 * DAY_MS),
          AGGREGATES_1M_RETENTION_MS: String(AGGREGATES_1M_DAYS * DAY_MS),
        }),
        {
          logger: createLogger({ name: "lifecycle", level: "silent" }),
          database,
          store: overrides.store ?? store,
          firstRunDelayMs: 3_600_000,
          opsServer: false,
        },
      );

    beforeAll(async () => {
      s3 = await startS3();
      const bucket = await s3.createBucket();
      store = openArchiveStore(`s3://${bucket}/vigil`, {
        endpoint: s3.endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
      database = await openDatabase(await url());
      await migrateToLatest(database.db);
      await seed(database.db, seedFrom, today - DAY_MS, 20 * 60_000);
      lifecycle = app();
      await lifecycle.start();
    });
    afterAll(async () => {
      await lifecycle?.stop();
      await database?.close();
      await s3?.stop();
    });

    it("creates the storage layout of the engine", async () => {
      const db = database.db;
      if (timescale) {
        const { rows: dims } = await sql<{ interval: string }>`
        SELECT time_interval::text AS interval FROM timescaledb_information.dimensions
        WHERE hypertable_name = 'readings'`.execute(db);
        expect(dims).toEqual([{ interval: "1 day" }]);
        const { rows: caggs } = await sql<{ view_name: string; materialized_only: boolean }>`
        SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1`.execute(db);
        expect(caggs).toEqual([
          { view_name: "readings_1h", materialized_only: false },
          { view_name: "readings_1h_fleet", materialized_only: false },
          { view_name: "readings_1m", materialized_only: false },
        ]);
        const { rows: settings } = await sql<{ attname: string; segmentby: number | null; orderby: number | null }>`
        SELECT attname, segmentby_column_index AS segmentby, orderby_column_index AS orderby
        FROM timescaledb_information.compression_settings WHERE hypertable_name = 'readings'
        ORDER BY attname`.execute(db);
        expect(settings.map((s) => [s.attname, s.segmentby, s.orderby])).toEqual([
          ["device_id", 1, null],
          ["sensor_id", 2, null],
          ["time", null, 1],
        ]);
        const { rows: jobs } = await sql<{ proc: string; relation: string | null; scheduled: boolean }>`
        SELECT proc_name AS proc, hypertable_name AS relation, scheduled FROM timescaledb_information.jobs
        WHERE proc_name LIKE 'policy_%' AND proc_name <> 'policy_telemetry' ORDER BY 1, 2`.execute(db);
        // No retention policy on raw readings: only the lifecycle service drops them, after archiving.
        // None is left to TimescaleDB's scheduler: the lifecycle service runs them (migration 0011).
        expect(jobs.map((j) => `${j.proc}:${j.relation ?? ""}:${j.scheduled}`)).toEqual([
          "policy_compression:readings:false",
          "policy_job_stat_history_retention::false",
          "policy_refresh_continuous_aggregate:readings_1h:false",
          "policy_refresh_continuous_aggregate:readings_1h_fleet:false",
          "policy_refresh_continuous_aggregate:readings_1m:false",
          "policy_retention:readings_1h:false",
          "policy_retention:readings_1h_fleet:false",
          "policy_retention:readings_1m:false",
        ]);
      } else {
        const { rows } = await sql<{ relname: string; relkind: string }>`
        SELECT relname, relkind FROM pg_class
        WHERE relname IN ('readings', 'readings_default', 'readings_1m', 'readings_1h',
                          'readings_1m_rollup', 'readings_1h_rollup', 'readings_1h_fleet',
                          'readings_1h_fleet_rollup') ORDER BY 1`.execute(db);
        expect(rows.map((r) => `${r.relname}:${r.relkind}`)).toEqual([
          "readings:p",
          "readings_1h:v",
          "readings_1h_fleet:v",
          "readings_1h_fleet_rollup:r",
          "readings_1h_rollup:r",
          "readings_1m:v",
          "readings_1m_rollup:r",
          "readings_default:r",
        ]);
      }
    });

    it("archives each chunk past retention to S3, verified, before dropping it; keeps the aggregates", async () => {
      // Old data is corrected and soft-deleted before it leaves: the archive keeps that too.
      await sql`UPDATE readings SET value = value + 100, updated_at = now()
              WHERE time >= ${new Date(seedFrom + 3 * HOUR_MS)} AND time < ${new Date(seedFrom + 4 * HOUR_MS)}`.execute(
        database.db,
      );
      await sql`UPDATE readings SET deleted_at = now()
              WHERE time >= ${new Date(seedFrom + 5 * HOUR_MS)} AND time < ${new Date(seedFrom + 6 * HOUR_MS)}`.execute(
        database.db,
      );
      // Aggregates of the old range, read from raw rows before they go.
      const oldRange = { startMs: seedFrom, endMs: droppedBefore };
      const before = await readingStats(database.db, oldRange, DAY_MS, { source: "raw" });
      archivedRows = await snapshot(database.db, seedFrom, droppedBefore);
      const newer = await snapshot(database.db, droppedBefore, now);

      expect(await lifecycle.runOnce({ allJobs: true })).toBe(true);

      const units = await listReadingUnits(database.db, timescale);
      expect(units.filter((u) => u.endMs <= cutoff)).toEqual([]);
      expect(units[0]!.startMs).toBe(droppedBefore);
      expect(await snapshot(database.db, seedFrom, droppedBefore)).toEqual([]);
      expect(await snapshot(database.db, droppedBefore, now)).toEqual(newer);

      const dropped = (droppedBefore - seedFrom) / DAY_MS;
      expect(lifecycle.metrics).toMatchObject({
        unitsArchived: dropped,
        rowsArchived: archivedRows.length,
        failures: 0,
      });
      const manifests = (await store.list("readings/")).filter((k) => k.endsWith(".manifest.json"));
      expect(manifests).toHaveLength(dropped);
      let rows = 0;
      for (const key of manifests) {
        const m = JSON.parse((await store.getText(key))!) as ArchiveManifest;
        expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
        rows += m.rows;
      }
      expect(rows).toBe(archivedRows.length);
      const { rows: audit } = await sql<{ n: number; total: number }>`
      SELECT count(*)::int AS n, sum(rows_affected)::int AS total FROM audit_log WHERE action = 'readings.archive'`.execute(
        database.db,
      );
      expect(audit).toEqual([{ n: dropped, total: archivedRows.length }]);
      const { rows: exports } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM archive_exports WHERE dropped_at IS NOT NULL`.execute(database.db);
      expect(exports[0]!.n).toBe(dropped);

      // The aggregates outlive the raw rows.
      const after = await readingStats(database.db, oldRange, DAY_MS, { source: "1h" });
      expect(after.map((r) => [r.bucketStartMs, r.sensor, r.count, r.min, r.max])).toEqual(
        before.map((r) => [r.bucketStartMs, r.sensor, r.count, r.min, r.max]),
      );
    });

    it("keeps aggregates for their own, longer retention", async () => {
      const { rows } = await sql<{ m: number | null; h: number | null }>`
      SELECT (SELECT (extract(epoch FROM min(bucket)) * 1000)::float8 FROM readings_1m) AS m,
             (SELECT (extract(epoch FROM min(bucket)) * 1000)::float8 FROM readings_1h) AS h`.execute(database.db);
      // 1-hour aggregates outlive the raw rows; 1-minute ones go after their own retention.
      expect(rows[0]!.h).toBe(seedFrom);
      if (timescale) {
        // TimescaleDB drops whole chunks of the aggregate: check the policy carries the setting.
        const { rows: jobs } = await sql<{ drop_after: string }>`
        SELECT config ->> 'drop_after' AS drop_after FROM timescaledb_information.jobs
        WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings_1m'`.execute(database.db);
        expect(jobs).toEqual([{ drop_after: `${AGGREGATES_1M_DAYS * 86_400} seconds` }]);
      } else {
        expect(rows[0]!.m).toBeGreaterThanOrEqual(now - AGGREGATES_1M_DAYS * DAY_MS - 60_000);
        expect(lifecycle.metrics.rollupRowsDropped).toBeGreaterThan(0);
      }
    });

    it.skipIf(!timescale)("compresses chunks; updates, soft deletes and inserts still work on them", async () => {
      const db = database.db;
      const day = today - 10 * DAY_MS;
      const units = await listReadingUnits(db, true);
      expect(units.find((u) => u.startMs === day)?.compressed).toBe(true);
      // READINGS_COMPRESS_AFTER_MS (2 days here) reached the policy: 3 days old is compressed, 2 is not.
      expect(units.find((u) => u.startMs === today - 3 * DAY_MS)?.compressed).toBe(true);
      expect(units.find((u) => u.startMs === today - 2 * DAY_MS)?.compressed).toBe(false);

      const range = sql`time >= ${new Date(day)} AND time < ${new Date(day + HOUR_MS)}`;
      const updated = await sql`UPDATE readings SET value = 1000, updated_at = now() WHERE ${range}`.execute(db);
      const deleted = await sql`UPDATE readings SET deleted_at = now()
                              WHERE time >= ${new Date(day + HOUR_MS)} AND time < ${new Date(day + 2 * HOUR_MS)}`.execute(
        db,
      );
      expect(Number(updated.numAffectedRows)).toBe(3 * 4);
      expect(Number(deleted.numAffectedRows)).toBe(3 * 4);
      // A redelivered batch is skipped by the unique key; a late reading goes in.
      const redelivered = await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT time, 5, seq, now(), device_id, sensor_id FROM readings WHERE ${range}
      ON CONFLICT DO NOTHING`.execute(db);
      expect(Number(redelivered.numAffectedRows ?? 0)).toBe(0);
      await sql`INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
              SELECT ${new Date(day + 60_000)}, 2000, 1, now(), min(id), 1 FROM devices`.execute(db);

      await lifecycle.runOnce({ allJobs: true });
      const stats = await readingStats(db, { startMs: day, endMs: day + DAY_MS }, DAY_MS, { source: "1h" });
      const raw = await readingStats(db, { startMs: day, endMs: day + DAY_MS }, DAY_MS, { source: "raw" });
      expect(stats.map((r) => [r.sensor, r.count, r.min, r.max])).toEqual(
        raw.map((r) => [r.sensor, r.count, r.min, r.max]),
      );
      expect(Math.max(...stats.map((r) => r.max))).toBe(2000);
      expect(stats.reduce((n, r) => n + r.count, 0)).toBe((DAY_MS / (20 * 60_000)) * 4 - 12 + 1);
    });

    it.runIf(timescale && !embedded)(
      "runs every TimescaleDB job itself, and none fails: not in the lifecycle service, not in TimescaleDB's scheduler",
      async () => {
        const db = database.db;
        // TimescaleDB's scheduler is live on this database: any job still on it has had its
        // first run (the job-history retention and the refresh policies start at once).
        await waitFor("TimescaleDB's job scheduler on this database", async () => {
          const { rows } = await sql<{ up: boolean }>`
            SELECT EXISTS (SELECT 1 FROM pg_stat_activity
                           WHERE backend_type = 'TimescaleDB Background Worker Scheduler'
                             AND datname = current_database()) AS up`.execute(db);
          return rows[0]!.up;
        });
        await new Promise((r) => setTimeout(r, 2_000));
        const { rows: stats } = await sql<{ job_id: number; last_run_status: string; total_failures: number }>`
          SELECT job_id, last_run_status, total_failures::int FROM timescaledb_information.job_stats
          WHERE last_run_status = 'Failed' OR total_failures > 0`.execute(db);
        expect(stats).toEqual([]);
        const { rows: errors } = await sql<{ job_id: number; err_message: string }>`
          SELECT job_id, err_message FROM timescaledb_information.job_errors`.execute(db);
        expect(errors).toEqual([]);
        const ran = lifecycle.metrics.policyJobsRun;
        const failures = lifecycle.metrics.failures;
        await lifecycle.runOnce({ allJobs: true });
        expect(lifecycle.metrics.policyJobsRun - ran).toBe(8);
        expect(lifecycle.metrics.failures).toBe(failures);
        expect(lifecycle.metrics.timescaleJobsFailed).toBe(0);
      },
    );

    it.runIf(timescale && !embedded)(
      "reports a job that fails in TimescaleDB's scheduler (job_stats), with its error",
      async () => {
        const db = database.db;
        await sql`
          CREATE PROCEDURE vigil_test_failing_job(job_id integer, config jsonb) LANGUAGE plpgsql
          AS $$ BEGIN RAISE EXCEPTION 'deliberate failure of job %', job_id; END $$`.execute(db);
        const { rows } = await sql<{ id: number }>`
          SELECT add_job('vigil_test_failing_job', '1 hour', initial_start => now()) AS id`.execute(db);
        const id = rows[0]!.id;
        try {
          await waitFor(
            "the scheduler's run of the failing job",
            async () => (await failedJobs(db)).some((j) => j.id === id),
            30_000,
            200,
          );
          await lifecycle.runOnce();
          expect(lifecycle.metrics.timescaleJobsFailed).toBe(1);
          expect(await failedJobs(db)).toEqual([
            expect.objectContaining({ id, failures: 1, error: `deliberate failure of job ${id}` }),
          ]);
        } finally {
          await sql`SELECT delete_job(${id})`.execute(db);
          await sql`DROP PROCEDURE vigil_test_failing_job`.execute(db);
        }
        await lifecycle.runOnce();
        expect(lifecycle.metrics.timescaleJobsFailed).toBe(0);
      },
    );

    it("never drops a chunk whose archive does not verify", async () => {
      const day = today - 45 * DAY_MS;
      await seed(database.db, day, day + DAY_MS, HOUR_MS);
      const rows = await snapshot(database.db, day, day + DAY_MS);
      expect(rows).toHaveLength(24 * 4);
      const broken = app({ store: corrupting(store) });
      await broken.start();
      await broken.runOnce();
      await broken.stop();
      expect(broken.metrics.failures).toBe(1);
      expect(broken.metrics.unitsArchived).toBe(0);
      expect(await snapshot(database.db, day, day + DAY_MS)).toEqual(rows);
      const { rows: exports } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM archive_exports WHERE range_start = ${new Date(day)}`.execute(database.db);
      expect(exports[0]!.n).toBe(0);
    });

    it("restores an archived range with identical rows, and holds it from retention", async () => {
      const from = seedFrom + 12 * HOUR_MS;
      const to = seedFrom + 2 * DAY_MS;
      const outcome = await restoreReadings(database.db, store, { fromMs: from, toMs: to, actor: "test" });
      const want = archivedRows.filter((r) => {
        const t = Number(BigInt(r.time as string) / 1000n);
        return t >= from && t < to;
      });
      expect(outcome).toMatchObject({ files: 2, rows: want.length, inserted: want.length });
      expect(await snapshot(database.db, from, to)).toEqual(want);
      // In the audit log: who started it (before the first row went back) and what it restored.
      const audit = await database.db
        .selectFrom("audit_log")
        .select(["actor", "action", "rows_affected"])
        .where("action", "in", ["readings.restore_start", "readings.restore"])
        .orderBy("chain_seq")
        .execute();
      expect(audit).toEqual([
        { actor: "test", action: "readings.restore_start", rows_affected: null },
        { actor: "test", action: "readings.restore", rows_affected: want.length },
      ]);
      // Restoring twice changes nothing.
      expect((await restoreReadings(database.db, store, { fromMs: from, toMs: to, actor: "test" })).inserted).toBe(0);

      // The next run archives the day at -45 (it verifies now) but keeps the restored, held days.
      await lifecycle.runOnce();
      expect(await snapshot(database.db, from, to)).toEqual(want);
      expect(await snapshot(database.db, today - 45 * DAY_MS, today - 44 * DAY_MS)).toEqual([]);
      expect(lifecycle.metrics.unitsKept).toBe(2);
    });

    it.skipIf(embedded)("lets one replica at a time run the lifecycle", async () => {
      await database.db.connection().execute(async (other) => {
        await sql`SELECT pg_advisory_lock(${LIFECYCLE_LOCK})`.execute(other);
        try {
          expect(await lifecycle.runOnce()).toBe(false);
        } finally {
          await sql`SELECT pg_advisory_unlock(${LIFECYCLE_LOCK})`.execute(other);
        }
      });
      expect(lifecycle.metrics.runsSkipped).toBe(1);
      expect(await lifecycle.runOnce()).toBe(true);
    });
  });

import { createTestDatabase } from "@vigil/testkit";
import { describe, expect, inject, it } from "vitest";
import {
  DEFAULT_LIFECYCLE,
  hasTimescale,
  listPolicyJobs,
  migrateTo,
  openDatabase,
  reconcilePolicies,
  refreshRollups,
  runPolicyJob,
  sql,
  type VigilDatabase,
} from "./index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/**
 * Raw readings are kept 17 days here, so refreshes look back 16 days
 * (refreshWindowMs): the test's 20 days of data then hold buckets whose raw
 * rows are gone, as a system that archives does after a year.
 */
const SETTINGS = { ...DEFAULT_LIFECYCLE, readingsRetentionMs: 17 * DAY };
const WINDOW_MS = 16 * DAY;

/** What the migration must keep: readings, aggregates, compression and policies. */
async function snapshot(database: VigilDatabase) {
  const { db } = database;
  const { rows: readings } = await sql<{ sensor: string; n: number; total: number; deleted: number }>`
    SELECT s.name AS sensor, count(*)::int AS n, sum(r.value)::float8 AS total,
           count(r.deleted_at)::int AS deleted
    FROM readings r JOIN sensors s ON s.id = r.sensor_id GROUP BY 1 ORDER BY 1`.execute(db);
  const aggregates: Record<string, unknown> = {};
  for (const view of ["readings_1m", "readings_1h"]) {
    const { rows } = await sql<{ buckets: number; n: number; total: number; oldest: Date }>`
      SELECT count(*)::int AS buckets, sum(count)::int AS n, sum(sum)::float8 AS total, min(bucket) AS oldest
      FROM ${sql.table(view)}`.execute(db);
    aggregates[view] = rows[0];
  }
  const timescale = await hasTimescale(db);
  const compressed = timescale
    ? (
        await sql<{ chunk: string }>`
          SELECT chunk_name AS chunk FROM timescaledb_information.chunks
          WHERE hypertable_name = 'readings' AND is_compressed ORDER BY 1`.execute(db)
      ).rows.map((r) => r.chunk)
    : [];
  const policies = timescale
    ? (
        await sql<{ proc: string; relation: string; schedule: string; config: Record<string, unknown> }>`
          SELECT proc_name AS proc, hypertable_name AS relation, schedule_interval::text AS schedule,
                 config - 'hypertable_id' - 'mat_hypertable_id' AS config
          FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL ORDER BY 1, 2`.execute(db)
      ).rows
    : [];
  return { readings, aggregates, compressed, policies };
}

/** Brings the aggregates up to date the way the lifecycle service does. */
async function refreshAggregates(database: VigilDatabase, nowMs: number): Promise<void> {
  if (await hasTimescale(database.db)) {
    for (const job of await listPolicyJobs(database.db)) {
      if (job.kind === "refresh") await runPolicyJob(database.db, job);
    }
  } else {
    await refreshRollups(database.db, { nowMs, windowMs: WINDOW_MS });
  }
}

async function columnType(database: VigilDatabase, table: string, column: string): Promise<string> {
  const { rows } = await sql<{ type: string }>`
    SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
    WHERE attrelid = ${table}::regclass AND attname = ${column}`.execute(database.db);
  return rows[0]!.type;
}

/**
 * Fills a database at migration 0006 as a running system would have: 20
 * days of readings of two sensors, some soft-deleted, aggregates refreshed,
 * old chunks compressed (TimescaleDB), and aggregate buckets older than any
 * raw reading (raw data past retention is archived and dropped; its
 * aggregates stay).
 */
async function fillUnder0006(database: VigilDatabase, nowMs: number): Promise<void> {
  const { db } = database;
  await migrateTo(db, "0007-user-token-version");
  await sql`INSERT INTO devices (code, number) VALUES ('OR', 1), ('OR', 2)`.execute(db);
  await sql`INSERT INTO sensors (name) VALUES ('motor.temperature_c'), ('heart_rate_bpm')`.execute(db);
  await sql`
    INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
    SELECT ${new Date(nowMs)}::timestamptz - make_interval(mins => i * 10), i % 97, i, now(), 1 + i % 2, 1 + i % 3 % 2
    FROM generate_series(1, 6 * 24 * 20) AS i`.execute(db);
  await sql`UPDATE readings SET deleted_at = now() WHERE seq % 50 = 0`.execute(db);
  if (await hasTimescale(db)) {
    await reconcilePolicies(db, SETTINGS);
    await sql`CALL refresh_continuous_aggregate('readings_1m', NULL, ${new Date(nowMs - HOUR)}::timestamptz)`.execute(
      db,
    );
    await sql`CALL refresh_continuous_aggregate('readings_1h', NULL, ${new Date(nowMs - HOUR)}::timestamptz)`.execute(
      db,
    );
    // The oldest days leave the raw table; their aggregates stay.
    await sql`SELECT drop_chunks('readings', older_than => ${new Date(nowMs - 17 * DAY)}::timestamptz)`.execute(db);
    await sql`SELECT compress_chunk(c) FROM show_chunks('readings', older_than => ${new Date(nowMs - 8 * DAY)}::timestamptz) AS c`.execute(
      db,
    );
  } else {
    await refreshRollups(db, { nowMs, windowMs: WINDOW_MS });
    // Buckets whose raw rows were archived and dropped long ago.
    for (const table of ["readings_1m_rollup", "readings_1h_rollup"]) {
      await sql`
        INSERT INTO ${sql.table(table)} (bucket, count, sum, min, max, device_id, sensor_id, sketch)
        VALUES (${new Date(nowMs - 40 * DAY)}, 3, 30, 5, 15, 1, 1, '{}')`.execute(db);
    }
  }
}

for (const engine of ["PostgreSQL", "TimescaleDB (embedded)"] as const) {
  describe(`item 3: migration 0008 on ${engine}`, () => {
    it("item 3: widens sensor ids on a database that already holds readings, aggregates and compressed chunks, keeping all of them", async () => {
      const url = engine === "PostgreSQL" ? await createTestDatabase(inject("postgresUrl")) : "embedded:memory";
      const database = await openDatabase(url);
      try {
        const nowMs = Math.floor(Date.now() / HOUR) * HOUR;
        await fillUnder0006(database, nowMs);
        const before = await snapshot(database);
        expect(before.readings.map((r) => r.sensor)).toEqual(["heart_rate_bpm", "motor.temperature_c"]);
        if (engine !== "PostgreSQL") {
          expect(before.compressed.length).toBeGreaterThan(5);
          expect(before.policies).toHaveLength(5);
        }
        expect(await columnType(database, "readings", "sensor_id")).toBe("smallint");

        expect((await migrateTo(database.db, "0008-wide-sensor-ids")).applied).toContain("0008-wide-sensor-ids");

        for (const [table, column] of [
          ["sensors", "id"],
          ["readings", "sensor_id"],
          ["readings_1m", "sensor_id"],
          ["readings_1h", "sensor_id"],
        ]) {
          expect(await columnType(database, table!, column!), `${table}.${column}`).toBe("integer");
        }
        const after = await snapshot(database);
        // Raw readings, compression and policies as they were; aggregates come back with the first refresh.
        expect(after.readings).toEqual(before.readings);
        expect(after.compressed).toEqual(before.compressed);
        expect(after.policies).toEqual(before.policies);
        await refreshAggregates(database, nowMs);
        expect((await snapshot(database)).aggregates).toEqual(before.aggregates);

        // Ids past the old smallint range now work end to end.
        await sql`SELECT setval(pg_get_serial_sequence('sensors', 'id'), 40000)`.execute(database.db);
        const { rows } = await sql<{
          id: number;
        }>`INSERT INTO sensors (name) VALUES ('probe.new') RETURNING id`.execute(database.db);
        expect(rows[0]!.id).toBe(40001);
        await sql`
          INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
          VALUES (${new Date(nowMs - 2 * HOUR)}, 1.5, 1, now(), 1, 40001)`.execute(database.db);
        await refreshAggregates(database, nowMs);
        const { rows: stats } = await sql<{ n: number }>`
          SELECT sum(count)::int AS n FROM readings_1h WHERE sensor_id = 40001`.execute(database.db);
        expect(stats[0]!.n).toBe(1);
        const { rows: seq } = await sql<{ max: string }>`
          SELECT seqmax::text AS max FROM pg_sequence
          WHERE seqrelid = pg_get_serial_sequence('sensors', 'id')::regclass`.execute(database.db);
        expect(seq[0]!.max).toBe("2147483647");
      } finally {
        await database.close();
      }
    });
  });
}

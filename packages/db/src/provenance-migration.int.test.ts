import { createTestDatabase, timescaleServer } from "@vigil/testkit";
import { describe, expect, inject, it } from "vitest";
import { hasTimescale, migrateTo, migrateToLatest, openDatabase, sql, type VigilDatabase } from "./index.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const server = timescaleServer(inject("timescaleUrl"));

const engines = [
  { name: "PostgreSQL", url: () => createTestDatabase(inject("postgresUrl"), "prov") },
  { name: "TimescaleDB (embedded)", url: async () => "embedded:memory" },
  ...(server.available ? [{ name: "TimescaleDB (server)", url: () => server.createDatabase("prov") }] : []),
];

async function compressedChunks(database: VigilDatabase): Promise<string[]> {
  if (!(await hasTimescale(database.db))) return [];
  const { rows } = await sql<{ chunk: string }>`
    SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk FROM timescaledb_information.chunks
    WHERE hypertable_name = 'readings' AND is_compressed ORDER BY range_start`.execute(database.db);
  return rows.map((r) => r.chunk);
}

for (const engine of engines) {
  describe(`migration 0018 (provenance) on ${engine.name}`, () => {
    it("adds source_id to a readings table that holds compressed chunks, keeping every reading; new rows carry it, old ones are NULL", async () => {
      const database = await openDatabase(await engine.url());
      try {
        const { db } = database;
        const nowMs = Math.floor(Date.now() / HOUR) * HOUR;
        await migrateTo(db, "0015-trust");
        await sql`INSERT INTO devices (code, number) VALUES ('PV', 1)`.execute(db);
        await sql`INSERT INTO sensors (name) VALUES ('temp')`.execute(db);
        await sql`
          INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
          SELECT ${new Date(nowMs)}::timestamptz - make_interval(mins => i * 30), i, i, now(), 1, 1
          FROM generate_series(1, 2 * 24 * 14) AS i`.execute(db);
        const timescale = await hasTimescale(db);
        if (timescale) {
          await sql`SELECT compress_chunk(c) FROM show_chunks('readings', older_than => ${new Date(nowMs - 3 * DAY)}::timestamptz) AS c`.execute(
            db,
          );
        }
        const compressedBefore = await compressedChunks(database);
        if (timescale) expect(compressedBefore.length).toBeGreaterThan(3);
        const sumBefore = await sql<{ n: number; total: number }>`
          SELECT count(*)::int AS n, sum(value)::float8 AS total FROM readings`.execute(db);

        expect((await migrateToLatest(db)).applied).toContain("0018-provenance");

        // Nothing rewritten or decompressed; every reading still there, provenance unknown.
        expect(await compressedChunks(database)).toEqual(compressedBefore);
        const after = await sql<{ n: number; total: number; unknown: number }>`
          SELECT count(*)::int AS n, sum(value)::float8 AS total, count(*) FILTER (WHERE source_id IS NULL)::int AS unknown
          FROM readings`.execute(db);
        expect(after.rows[0]).toEqual({ ...sumBefore.rows[0], unknown: sumBefore.rows[0]!.n });

        // New readings carry their source, into an open chunk and into a compressed one.
        const source = await db
          .insertInto("reading_sources")
          .values({ device_id: 1, key_prefix: "abcd1234", receiver: "receiver-0" })
          .returning("id")
          .executeTakeFirstOrThrow();
        await sql`
          INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, source_id)
          VALUES (${new Date(nowMs + 60_000)}, 1, 1000, now(), 1, 1, ${source.id}),
                 (${new Date(nowMs - 10 * DAY + 60_000)}, 2, 1001, now(), 1, 1, ${source.id})`.execute(db);
        if (timescale) {
          // Compress everything old again (the one reading added to a compressed chunk included).
          await sql`SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('readings', older_than => ${new Date(nowMs - 3 * DAY)}::timestamptz) AS c`.execute(
            db,
          );
        }
        const { rows } = await sql<{ seq: number; source_id: number | null }>`
          SELECT seq::int AS seq, source_id FROM readings WHERE seq >= 1000 ORDER BY seq`.execute(db);
        expect(rows).toEqual([
          { seq: 1000, source_id: source.id },
          { seq: 1001, source_id: source.id },
        ]);

        // A source names a credential: an API key prefix or a certificate fingerprint, never neither.
        await expect(
          sql`INSERT INTO reading_sources (device_id, receiver) VALUES (1, 'receiver-0')`.execute(db),
        ).rejects.toThrow(/check constraint/);
      } finally {
        await database.close();
      }
    });
  });
}

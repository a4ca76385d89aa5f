/**
 * `npm run bench:provenance -- [--rows 1000000] [--rounds 3] [--engine postgresql|timescaledb]`:
 * what provenance (readings.source_id, migration 0018) costs the writer, in
 * pairs measured side by side. Each round writes the same readings twice
 * into one `readings` table, as the writer does (binary COPY, groups of
 * 20,000 rows per transaction): once with source_id and once without (the
 * columns before 0018), on two days ahead (each its own partition) so neither conflicts. Group by
 * group the two alternate (and swap who goes first), so the load of a
 * shared machine falls on both alike, which whole runs one after the other
 * do not give (`bench:inserts` swings by 2x here).
 *
 * Reports per round: rows per second with / without (wall time), and
 * PostgreSQL's and Node's CPU with / without, per row. The target (issue 13)
 * is a rows/s ratio of at least 0.95.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { hasTimescale, migrateToLatest, openDatabase } from "@vigil/db";
import { createTestDatabase, ensureTools, scriptArgs, startPostgres } from "@vigil/testkit";
import { COPY_COLUMNS, COPY_COLUMNS_WITHOUT_SOURCE, type DecodedDelivery, toCopyRows } from "@vigil/writer";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { cpuSecondsOf, postmasterPid, treeCpuSecondsOf } from "./process-stats.ts";

const USAGE = `usage: npm run bench:provenance -- [--rows 1000000] [--rounds 3] [--group 20000] [--engine postgresql|timescaledb]
  What provenance (readings.source_id) costs the writer: the same readings written with and without it,
  group by group, in one run. Target: rows/s with ÷ without at least 0.95.
  --rows N        readings per side and round (default 1,000,000)
  --rounds N      rounds (default 3)
  --group N       readings per transaction (default 20,000)
  --engine NAME   postgresql (default) or timescaledb
`;
const {
  values: flags,
  fail,
  positiveInt,
} = scriptArgs("bench:provenance", USAGE, {
  rows: { type: "string", default: "1000000" },
  rounds: { type: "string", default: "3" },
  group: { type: "string", default: "20000" },
  engine: { type: "string", default: "postgresql" },
});
const totalRows = positiveInt(flags.rows, "--rows");
const rounds = positiveInt(flags.rounds, "--rounds");
const groupRows = positiveInt(flags.group, "--group");
const timescale = flags.engine === "timescaledb";
if (!timescale && flags.engine !== "postgresql") fail("--engine must be postgresql or timescaledb");

const DEVICES = 50;
const SENSORS = ["a", "b", "c", "d", "e"];
const SAMPLES = 100;
const DAY_MS = 86_400_000;
const sensorIds = new Map(SENSORS.map((s, i) => [s, i + 1]));

type Variant = "with" | "without";
const copy: Record<Variant, (client: pg.PoolClient, group: DecodedDelivery[]) => Promise<void>> = {
  with: async (client, group) => {
    const { data } = toCopyRows(group, sensorIds);
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY readings (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`)),
    );
  },
  without: async (client, group) => {
    const { data } = toCopyRows(group, sensorIds, { withSource: false });
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY readings (${COPY_COLUMNS_WITHOUT_SOURCE}) FROM STDIN (FORMAT binary)`)),
    );
  },
};

const log = (msg: string) => process.stderr.write(`provenance-cost: ${msg}\n`);
ensureTools([timescale ? "timescaledb" : "postgresql"]);
const server = await startPostgres(timescale ? { timescaledb: "preloaded" } : {});
try {
  const url = await createTestDatabase(server.url, "provenance");
  const database = await openDatabase(url);
  await migrateToLatest(database.db);
  const engine = (await hasTimescale(database.db)) ? "TimescaleDB (hypertable)" : "PostgreSQL (partitioned table)";
  log(`engine: ${engine}`);
  await database.close();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const pgPid = postmasterPid(server.port)!;
  // The same readings for both, a day apart: equal work, no conflicts, each in a partition
  // of its own day (plain PostgreSQL has them PARTITION_DAYS_AHEAD ahead).
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  const groups: Record<Variant, DecodedDelivery[][]> = {
    with: makeGroups(today + DAY_MS + 3_600_000),
    without: makeGroups(today + 2 * DAY_MS + 3_600_000),
  };
  const results: Array<Record<Variant, { seconds: number; pgCpu: number; backendCpu: number; nodeCpu: number }>> = [];
  for (let round = 0; round < rounds; round++) {
    const client = await pool.connect();
    await client.query("TRUNCATE readings");
    await client.query("CHECKPOINT");
    const backend = Number((await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
    const zero = () => ({ seconds: 0, pgCpu: 0, backendCpu: 0, nodeCpu: 0 });
    const totals: Record<Variant, ReturnType<typeof zero>> = { with: zero(), without: zero() };
    for (let i = 0; i < groups.with.length; i++) {
      const order: Variant[] = (i + round) % 2 === 0 ? ["with", "without"] : ["without", "with"];
      for (const variant of order) {
        const pg0 = treeCpuSecondsOf(pgPid);
        const b0 = cpuSecondsOf(backend);
        const n0 = process.cpuUsage();
        const t0 = performance.now();
        await client.query("BEGIN");
        await copy[variant](client, groups[variant][i]!);
        await client.query("COMMIT");
        const t = totals[variant];
        t.seconds += (performance.now() - t0) / 1000;
        const n = process.cpuUsage(n0);
        t.nodeCpu += (n.user + n.system) / 1e6;
        t.backendCpu += cpuSecondsOf(backend) - b0;
        t.pgCpu += treeCpuSecondsOf(pgPid) - pg0;
      }
    }
    client.release();
    results.push(totals);
    const ratio = totals.without.seconds / totals.with.seconds;
    log(`round ${round + 1}: rows/s with/without ${ratio.toFixed(3)} ${JSON.stringify(totals)}`);
  }
  await pool.end();
  const millions = totalRows / 1e6;
  const perRound = results.map((r) => ({
    rows_per_s_with: Math.round(totalRows / r.with.seconds),
    rows_per_s_without: Math.round(totalRows / r.without.seconds),
    rows_per_s_ratio: round3(r.without.seconds / r.with.seconds),
    postgres_cpu_s_per_million: { with: round3(r.with.pgCpu / millions), without: round3(r.without.pgCpu / millions) },
    backend_cpu_ratio: round3(r.with.backendCpu / r.without.backendCpu),
    node_cpu_ratio: round3(r.with.nodeCpu / r.without.nodeCpu),
  }));
  process.stdout.write(
    `${JSON.stringify({ engine: flags.engine, rows: totalRows, group_rows: groupRows, rounds: perRound })}\n`,
  );
} finally {
  await server.stop();
}

/** Batches as the writer gets them: 50 devices, 5 sensors × 100 samples, 1 ms apart, one source per device. */
function makeGroups(startMs: number): DecodedDelivery[][] {
  const out: DecodedDelivery[][] = [];
  let group: DecodedDelivery[] = [];
  let inGroup = 0;
  const batchRows = SENSORS.length * SAMPLES;
  for (let b = 0; b * batchRows < totalRows; b++) {
    const device = (b % DEVICES) + 1;
    const seq = Math.floor(b / DEVICES) + 1;
    const times = Float64Array.from({ length: SAMPLES }, (_, i) => startMs + (seq - 1) * SAMPLES + i);
    const series = SENSORS.map((sensor, k) => ({
      sensor,
      times,
      values: Float64Array.from({ length: SAMPLES }, (_, i) => ((seq * 31 + i * 7 + k) % 10_000) / 100),
    }));
    group.push({ deviceId: device, storedAtMs: Date.now() + 0.123, sourceId: device, batch: { seq, series } });
    inGroup += batchRows;
    if (inGroup >= groupRows) {
      out.push(group);
      group = [];
      inGroup = 0;
    }
  }
  if (group.length) out.push(group);
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

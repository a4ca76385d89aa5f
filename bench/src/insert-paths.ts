/**
 * `npm run bench:inserts -- [--rows 1000000] [--rounds 3] [--only TEXT] [--timescaledb]`: the ways a
 * writer can put readings into `readings`, on a private PostgreSQL, in
 * groups of 20,000 rows per transaction as the writer does, rounds
 * interleaved so the machine's load drifts over all of them alike. Reports
 * rows per second, and PostgreSQL's and Node's CPU seconds per million
 * rows (less noisy than the rate on a shared machine).
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createTestDatabase, ensureTools, scriptArgs, startPostgres } from "@vigil/testkit";
import { COPY_COLUMNS, type DecodedDelivery, toCopyRows, toReadingColumns } from "@vigil/writer";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { postmasterPid, treeCpuSecondsOf } from "./process-stats.ts";

const USAGE = `usage: npm run bench:inserts -- [--rows 1000000] [--rounds 3] [--group 20000] [--only TEXT] [--timescaledb]
  The ways a writer can put readings into readings, rounds interleaved: rows/s, and PostgreSQL's and
  Node's CPU seconds per million rows.
  --rows N        readings per variant and round (default 1,000,000)
  --rounds N      rounds, each variant once per round, the order reversed every other round (default 3)
  --group N       readings per transaction, as the writer's groups (default 20,000)
  --only TEXT     only the variants whose name contains TEXT ("index": the index layouts)
  --timescaledb   on the TimescaleDB server (readings a hypertable) instead of plain PostgreSQL
`;
const { values: flags, positiveInt } = scriptArgs("bench:inserts", USAGE, {
  rows: { type: "string", default: "1000000" },
  rounds: { type: "string", default: "3" },
  group: { type: "string", default: "20000" },
  only: { type: "string" },
  timescaledb: { type: "boolean", default: false },
});
const totalRows = positiveInt(flags.rows, "--rows");
const rounds = positiveInt(flags.rounds, "--rounds");
const groupRows = positiveInt(flags.group, "--group");

const DEVICES = 50;
const SENSORS = ["a", "b", "c", "d", "e"];
const SAMPLES = 100;
const sensorIds = new Map(SENSORS.map((s, i) => [s, i + 1]));

type Insert = (client: pg.PoolClient, group: DecodedDelivery[]) => Promise<void>;

const copyBinary: Insert = async (client, group) => {
  const { data } = toCopyRows(group, sensorIds);
  await pipeline(
    Readable.from([data]),
    client.query(copyFrom(`COPY readings (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`)),
  );
};

/**
 * Index layouts compared with the writer's COPY in the same run (`--only index`): before each
 * round, `readings` gets exactly the listed indexes (besides migration 0006's partial index of
 * deleted rows, which no insert enters). The first two are the time index before and after
 * migration 0020; the last three say what each index costs alone. Vigil needs two: the unique
 * index is exactly-once storage and every per-series query, the time-ordered one the newest-first
 * page and every time-range scan (aggregate refreshes, archive exports). Telegraf's table has
 * the time index alone.
 */
const UNIQUE = "CREATE UNIQUE INDEX readings_device_sensor_time ON readings (device_id, sensor_id, time)";
const TIME_ONLY = "CREATE INDEX readings_time_only ON readings (time DESC)";
const TIME_SERIES = "CREATE INDEX readings_time_series ON readings (time DESC, device_id DESC, sensor_id DESC)";
const MIGRATED = [UNIQUE, TIME_SERIES];
const indexLayouts: Record<string, string[]> = {
  "COPY binary, time index (before 0020)": [UNIQUE, TIME_ONLY],
  "COPY binary, (time, device_id, sensor_id) index (0020)": MIGRATED,
  "COPY binary, index alone: unique (device_id, sensor_id, time)": [UNIQUE],
  "COPY binary, index alone: (time, device_id, sensor_id)": [TIME_SERIES],
  "COPY binary, index alone: time (as Telegraf's table)": [TIME_ONLY],
};
/** On an empty `readings`: the layout's indexes, and no other on those columns. */
async function useIndexLayout(client: pg.PoolClient, indexes: string[]): Promise<void> {
  for (const name of ["readings_time_only", "readings_time_series", "readings_device_sensor_time"]) {
    await client.query(`DROP INDEX IF EXISTS ${name}`);
  }
  for (const ddl of indexes) await client.query(ddl);
}

const variants: Record<string, Insert> = {
  "unnest (text arrays)": async (client, group) => {
    const c = toReadingColumns(group, sensorIds);
    await client.query(
      `INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
       SELECT to_timestamp(t / 1000.0), v, q, to_timestamp(r / 1000.0), d, s
       FROM unnest($1::float8[], $2::float8[], $3::int8[], $4::float8[], $5::int4[], $6::int4[]) AS u(t, v, q, r, d, s)
       ON CONFLICT DO NOTHING`,
      [c.timesMs, c.values, c.seqs, c.receivedAtMs, c.deviceIds, c.sensorIds],
    );
  },
  "COPY binary into readings": copyBinary,
  ...Object.fromEntries(Object.keys(indexLayouts).map((name) => [name, copyBinary])),
  // For comparison only: what the rollup invalidation trigger (transition table) costs.
  "COPY binary into readings, rollup trigger disabled": async (client, group) => {
    const { data } = toCopyRows(group, sensorIds);
    await client.query("ALTER TABLE readings DISABLE TRIGGER readings_rollup_insert");
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY readings (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`)),
    );
    await client.query("ALTER TABLE readings ENABLE TRIGGER readings_rollup_insert");
  },
  "COPY binary into a temp table, INSERT … ON CONFLICT": async (client, group) => {
    const { data } = toCopyRows(group, sensorIds);
    await client.query(
      "CREATE TEMP TABLE IF NOT EXISTS readings_in (time timestamptz, value float8, seq int8, received_at timestamptz, device_id int4, sensor_id int4, source_id int4) ON COMMIT DELETE ROWS",
    );
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY readings_in (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`)),
    );
    await client.query(
      `INSERT INTO readings (${COPY_COLUMNS}) SELECT ${COPY_COLUMNS} FROM readings_in ON CONFLICT DO NOTHING`,
    );
  },
  "COPY text into readings": async (client, group) => {
    const lines: string[] = [];
    for (const d of group) {
      const received = new Date(d.storedAtMs).toISOString();
      for (const s of d.batch.series) {
        const sensor = sensorIds.get(s.sensor);
        for (let i = 0; i < s.values.length; i++) {
          lines.push(
            `${new Date(s.times[i]!).toISOString()}\t${s.values[i]}\t${d.batch.seq}\t${received}\t${d.deviceId}\t${sensor}\t${d.sourceId ?? "\\N"}\n`,
          );
        }
      }
    }
    await pipeline(
      Readable.from([lines.join("")]),
      client.query(copyFrom(`COPY readings (${COPY_COLUMNS}) FROM STDIN`)),
    );
  },
};

const log = (msg: string) => process.stderr.write(`insert-paths: ${msg}\n`);
ensureTools(["postgresql", ...(flags.timescaledb ? (["timescaledb"] as const) : [])]);
// Durable defaults, as the other benches; --timescaledb: `readings` is a hypertable.
const server = await startPostgres(flags.timescaledb ? { timescaledb: "preloaded" } : {});
try {
  const url = await createTestDatabase(server.url, "inserts");
  const database = await openDatabase(url);
  await migrateToLatest(database.db);
  await database.close();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const pgPid = postmasterPid(server.port)!;
  const groups = makeGroups();
  // The rollup trigger is plain PostgreSQL's (TimescaleDB tracks invalidations itself).
  const names = Object.keys(variants)
    .filter((n) => !flags.only || n.includes(flags.only))
    .filter((n) => !(flags.timescaledb && n.includes("rollup trigger")));
  const results = new Map<string, Array<{ rate: number; pgCpu: number; nodeCpu: number }>>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const client = await pool.connect();
      await client.query("TRUNCATE readings");
      // Every other variant writes into the migrated layout.
      await useIndexLayout(client, indexLayouts[name] ?? MIGRATED);
      await client.query("CHECKPOINT");
      const pg0 = treeCpuSecondsOf(pgPid);
      const node0 = process.cpuUsage();
      const t0 = performance.now();
      for (const group of groups) {
        await client.query("BEGIN");
        await variants[name]!(client, group);
        await client.query("COMMIT");
      }
      const seconds = (performance.now() - t0) / 1000;
      const nodeUs = process.cpuUsage(node0);
      const millions = totalRows / 1e6;
      const r = {
        rate: Math.round(totalRows / seconds),
        pgCpu: round2((treeCpuSecondsOf(pgPid) - pg0) / millions),
        nodeCpu: round2((nodeUs.user + nodeUs.system) / 1e6 / millions),
      };
      client.release();
      log(`round ${round + 1} ${name}: ${JSON.stringify(r)}`);
      results.set(name, [...(results.get(name) ?? []), r]);
    }
  }
  await pool.end();
  const summary = Object.fromEntries(
    [...results].map(([name, rs]) => [
      name,
      {
        rows_per_s: rs.map((r) => r.rate),
        postgres_cpu_s_per_million: rs.map((r) => r.pgCpu),
        node_cpu_s_per_million: rs.map((r) => r.nodeCpu),
      },
    ]),
  );
  const engine = flags.timescaledb ? "timescaledb" : "postgresql";
  process.stdout.write(`${JSON.stringify({ engine, rows: totalRows, group_rows: groupRows, variants: summary })}\n`);
} finally {
  await server.stop();
}

/** Batches as the writer gets them: 50 devices, 5 sensors × 100 samples, 1 ms apart, grouped by row count. */
function makeGroups(): DecodedDelivery[][] {
  const groups: DecodedDelivery[][] = [];
  let group: DecodedDelivery[] = [];
  let inGroup = 0;
  const start = Date.now() - 600_000;
  const batchRows = SENSORS.length * SAMPLES;
  for (let b = 0; b * batchRows < totalRows; b++) {
    const device = (b % DEVICES) + 1;
    const seq = Math.floor(b / DEVICES) + 1;
    const times = Float64Array.from({ length: SAMPLES }, (_, i) => start + (seq - 1) * SAMPLES + i);
    const series = SENSORS.map((sensor) => ({
      sensor,
      times,
      values: Float64Array.from({ length: SAMPLES }, () => Math.round(Math.random() * 10_000) / 100),
    }));
    group.push({ deviceId: device, storedAtMs: Date.now() + 0.123, sourceId: device, batch: { seq, series } });
    inGroup += batchRows;
    if (inGroup >= groupRows) {
      groups.push(group);
      group = [];
      inGroup = 0;
    }
  }
  if (group.length) groups.push(group);
  return groups;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

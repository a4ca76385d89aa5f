/**
 * `node bench/src/insert-paths.ts [--rows 1000000] [--rounds 3] [--only <text>]
 * [--engine postgresql|timescaledb]`: the ways a writer can put readings
 * into `readings`, on a private PostgreSQL (or the TimescaleDB build, a
 * hypertable), in groups of 20,000 rows per transaction as the writer does,
 * rounds interleaved so the machine's load drifts over all of them alike.
 * Reports rows per second, and PostgreSQL's and Node's CPU seconds per
 * million rows (less noisy than the rate on a shared machine).
 *
 * Provenance (migration 0018) is measured in pairs: "COPY binary into
 * readings" writes source_id, "…, without provenance" the columns before it;
 * `provenance` reports with/without per round (`--only "into readings|without
 * provenance"` runs just the pair; `|` separates alternatives).
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { hasTimescale, migrateToLatest, openDatabase } from "@vigil/db";
import { createTestDatabase, ensureTools, startPostgres } from "@vigil/testkit";
import {
  COPY_COLUMNS,
  COPY_COLUMNS_WITHOUT_SOURCE,
  type DecodedDelivery,
  toCopyRows,
  toReadingColumns,
} from "@vigil/writer";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { postmasterPid, treeCpuSecondsOf } from "./process-stats.ts";

const { values: flags } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "3" },
    group: { type: "string", default: "20000" },
    only: { type: "string" },
    engine: { type: "string", default: "postgresql" },
  },
});
const totalRows = Number(flags.rows);
const rounds = Number(flags.rounds);
const groupRows = Number(flags.group);

const DEVICES = 50;
const SENSORS = ["a", "b", "c", "d", "e"];
const SAMPLES = 100;
const sensorIds = new Map(SENSORS.map((s, i) => [s, i + 1]));

type Insert = (client: pg.PoolClient, group: DecodedDelivery[]) => Promise<void>;

const variants: Record<string, Insert> = {
  "unnest (text arrays)": async (client, group) => {
    const c = toReadingColumns(group, sensorIds);
    await client.query(
      `INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, source_id)
       SELECT to_timestamp(t / 1000.0), v, q, to_timestamp(r / 1000.0), d, s, src
       FROM unnest($1::float8[], $2::float8[], $3::int8[], $4::float8[], $5::int4[], $6::int4[], $7::int4[])
         AS u(t, v, q, r, d, s, src)
       ON CONFLICT DO NOTHING`,
      [c.timesMs, c.values, c.seqs, c.receivedAtMs, c.deviceIds, c.sensorIds, c.sourceIds],
    );
  },
  "COPY binary into readings": async (client, group) => {
    const { data } = toCopyRows(group, sensorIds);
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY readings (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`)),
    );
  },
  // The pair of the one above: the same rows without source_id (the writer before migration 0018).
  "COPY binary into readings, without provenance": async (client, group) => {
    const { data } = toCopyRows(group, sensorIds, { withSource: false });
    await pipeline(
      Readable.from([data]),
      client.query(copyFrom(`COPY readings (${COPY_COLUMNS_WITHOUT_SOURCE}) FROM STDIN (FORMAT binary)`)),
    );
  },
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
      "CREATE TEMP TABLE IF NOT EXISTS readings_in (time timestamptz, value float8, seq int8, received_at timestamptz, device_id int4, sensor_id int4) ON COMMIT DELETE ROWS",
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
            `${new Date(s.times[i]!).toISOString()}\t${s.values[i]}\t${d.batch.seq}\t${received}\t${d.deviceId}\t${sensor}\n`,
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
const timescale = flags.engine === "timescaledb";
if (!timescale && flags.engine !== "postgresql") throw new Error("--engine: postgresql or timescaledb");
ensureTools([timescale ? "timescaledb" : "postgresql"]);
const server = await startPostgres(timescale ? { timescaledb: "preloaded" } : {});
try {
  const url = await createTestDatabase(server.url, "inserts");
  const database = await openDatabase(url);
  await migrateToLatest(database.db);
  log(`engine: ${(await hasTimescale(database.db)) ? "TimescaleDB (hypertable)" : "PostgreSQL (partitioned table)"}`);
  await database.close();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const pgPid = postmasterPid(server.port)!;
  const groups = makeGroups();
  // The rollup trigger exists on plain PostgreSQL only.
  const names = Object.keys(variants)
    .filter((n) => !flags.only || flags.only.split("|").some((part) => n.includes(part)))
    .filter((n) => !timescale || !n.includes("rollup trigger"));
  const results = new Map<string, Array<{ rate: number; pgCpu: number; nodeCpu: number }>>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const client = await pool.connect();
      await client.query("TRUNCATE readings");
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
  // With provenance over without, round by round (each pair ran in the same round, back to back).
  const withSource = results.get("COPY binary into readings");
  const without = results.get("COPY binary into readings, without provenance");
  const provenance =
    withSource && without
      ? {
          rows_per_s_ratio: withSource.map((r, i) => round3(r.rate / without[i]!.rate)),
          postgres_cpu_ratio: withSource.map((r, i) => round3(r.pgCpu / without[i]!.pgCpu)),
          node_cpu_ratio: withSource.map((r, i) => round3(r.nodeCpu / without[i]!.nodeCpu)),
        }
      : undefined;
  process.stdout.write(
    `${JSON.stringify({ engine: flags.engine, rows: totalRows, group_rows: groupRows, variants: summary, provenance })}\n`,
  );
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
    // One provenance id per device, as when each device streams through one receiver.
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

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

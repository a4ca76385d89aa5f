import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { COPY_COLUMNS, COPY_HEADER_BYTES, COPY_TRAILER_BYTES, type DecodedDelivery, toCopyRows } from "@vigil/writer";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

const SENSORS = 5;
const ROWS_PER_CHUNK = 20_000;
const SAMPLES = 100;

/**
 * The ceiling the pipeline is measured against: one client loading `rows`
 * readings with one binary COPY (the fastest way into PostgreSQL, and the
 * writer's own encoding) into a table identical to `readings` (same
 * columns, unique index) but unpartitioned and without triggers, in the
 * same database. Returns rows per second.
 */
export async function measureCopyCeiling(databaseUrl: string, rows: number, devices: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("DROP TABLE IF EXISTS readings_copy_ceiling");
    await client.query("CREATE TABLE readings_copy_ceiling (LIKE readings INCLUDING ALL)");
    const sensorIds = new Map(Array.from({ length: SENSORS }, (_, i) => [`s${i + 1}`, i + 1]));
    const start = performance.now();
    const sink = client.query(copyFrom(`COPY readings_copy_ceiling (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`));
    await pipeline(Readable.from(copyChunks(rows, devices, sensorIds)), sink);
    const seconds = (performance.now() - start) / 1000;
    await client.query("DROP TABLE readings_copy_ceiling");
    return rows / seconds;
  } finally {
    await client.end();
  }
}

/**
 * One binary COPY stream in chunks: the header once, the trailer once, and
 * in between batches of 100 samples cycling over every (device, sensor),
 * 1 ms apart, so (device, sensor, time) is distinct like real readings.
 */
function* copyChunks(rows: number, devices: number, sensorIds: Map<string, number>): Generator<Buffer> {
  const base = Date.now() - 3_600_000;
  const sensors = [...sensorIds.keys()];
  const series = devices * sensors.length;
  for (let first = 0; first < rows; first += ROWS_PER_CHUNK) {
    const end = Math.min(rows, first + ROWS_PER_CHUNK);
    const deliveries: DecodedDelivery[] = [];
    for (let row = first; row < end; row += SAMPLES) {
      const batch = row / SAMPLES;
      const pair = batch % series;
      const round = Math.floor(batch / series);
      const n = Math.min(SAMPLES, end - row);
      const times = Float64Array.from({ length: n }, (_, k) => base + round * SAMPLES + k);
      const values = Float64Array.from({ length: n }, (_, k) => 20 + ((row + k) % 1000) / 10);
      deliveries.push({
        deviceId: Math.floor(pair / sensors.length) + 1,
        storedAtMs: Date.now(),
        sourceId: 1,
        batch: { seq: round + 1, series: [{ sensor: sensors[pair % sensors.length]!, times, values }] },
      });
    }
    const { data } = toCopyRows(deliveries, sensorIds);
    const last = end >= rows;
    yield data.subarray(first === 0 ? 0 : COPY_HEADER_BYTES, last ? data.length : data.length - COPY_TRAILER_BYTES);
  }
}

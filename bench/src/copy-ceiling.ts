import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

/**
 * The ceiling the pipeline is measured against: one client COPYing `rows`
 * readings straight into a table identical to `readings` (same columns,
 * unique index) in the same database. Returns rows per second.
 */
export async function measureCopyCeiling(databaseUrl: string, rows: number, devices: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("DROP TABLE IF EXISTS readings_copy_ceiling");
    await client.query("CREATE TABLE readings_copy_ceiling (LIKE readings INCLUDING ALL)");
    const start = performance.now();
    const sink = client.query(
      copyFrom("COPY readings_copy_ceiling (time, value, seq, received_at, device_id, sensor_id) FROM STDIN"),
    );
    await pipeline(Readable.from(rowText(rows, devices)), sink);
    const seconds = (performance.now() - start) / 1000;
    await client.query("DROP TABLE readings_copy_ceiling");
    return rows / seconds;
  } finally {
    await client.end();
  }
}

/** COPY text rows in chunks: distinct (device, sensor, time) like real readings. */
function* rowText(rows: number, devices: number): Generator<string> {
  const base = Date.now() - 3_600_000;
  const received = new Date().toISOString();
  const chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    const device = (i % devices) + 1;
    const sensor = (Math.floor(i / devices) % 5) + 1;
    const time = new Date(base + Math.floor(i / (devices * 5))).toISOString();
    chunk.push(
      `${time}\t${(20 + (i % 1000) / 10).toFixed(1)}\t${Math.floor(i / 1000) + 1}\t${received}\t${device}\t${sensor}\n`,
    );
    if (chunk.length === 5_000) {
      yield chunk.join("");
      chunk.length = 0;
    }
  }
  if (chunk.length) yield chunk.join("");
}

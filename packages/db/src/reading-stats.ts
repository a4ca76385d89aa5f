import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export interface StatsFilter {
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  startMs?: number;
  endMs?: number;
}

export interface StatsRow {
  bucketStartMs: number;
  sensor: string;
  count: number;
  min: number;
  max: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Count, min, max, avg and percentiles per (time bucket, sensor) for live
 * readings matching a filter, buckets aligned to the Unix epoch. Computed
 * from raw rows, so every figure is exact (percentiles are interpolated,
 * as percentile_cont). Sorted by bucket, then sensor.
 */
export async function readingStats(db: Kysely<Database>, filter: StatsFilter, bucketMs: number): Promise<StatsRow[]> {
  const conditions = [sql`r.deleted_at IS NULL`];
  if (filter.deviceCode !== undefined) conditions.push(sql`d.code = ${filter.deviceCode}`);
  if (filter.deviceNumber !== undefined) conditions.push(sql`d.number = ${filter.deviceNumber}`);
  if (filter.sensor !== undefined) conditions.push(sql`s.name = ${filter.sensor}`);
  if (filter.startMs !== undefined) conditions.push(sql`r.time >= ${new Date(filter.startMs)}`);
  if (filter.endMs !== undefined) conditions.push(sql`r.time < ${new Date(filter.endMs)}`);
  const { rows } = await sql<{
    bucket_ms: string | number;
    sensor: string;
    n: string | number;
    min: number;
    max: number;
    avg: number;
    p50: number;
    p95: number;
    p99: number;
  }>`
    SELECT floor(extract(epoch FROM r.time) * 1000 / ${bucketMs}) * ${bucketMs} AS bucket_ms,
           s.name AS sensor, count(*) AS n, min(r.value) AS min, max(r.value) AS max, avg(r.value) AS avg,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY r.value) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.value) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY r.value) AS p99
    FROM readings r JOIN devices d ON d.id = r.device_id JOIN sensors s ON s.id = r.sensor_id
    WHERE ${sql.join(conditions, sql` AND `)}
    GROUP BY 1, 2
    ORDER BY 1, 2`.execute(db);
  return rows.map((r) => ({
    bucketStartMs: Number(r.bucket_ms),
    sensor: r.sensor,
    count: Number(r.n),
    min: Number(r.min),
    max: Number(r.max),
    avg: Number(r.avg),
    p50: Number(r.p50),
    p95: Number(r.p95),
    p99: Number(r.p99),
  }));
}

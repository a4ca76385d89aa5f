import { type Database, type Kysely, nearestRank, sketchBinValue, sql } from "@vigil/db";

/** One sensor over a procedure's window. */
export interface SensorSummary {
  sensor: string;
  count: number;
  min: number;
  max: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface TelemetryReading {
  sensor: string;
  timeMs: number;
  value: number;
}

export interface TelemetryWindow {
  deviceId: number;
  startMs: number;
  endMs: number;
  /** Only this sensor. */
  sensor?: string;
}

/** Windows up to this long are summed up from raw readings; longer ones (a procedure left open) from aggregates. */
export const RAW_WINDOW_MAX_MS = 24 * 3_600_000;

/**
 * Per-sensor figures of one robot over a window: from the raw readings
 * (exact, percentile_cont) while they are stored and the window is at most
 * a day; otherwise — raw readings past retention, or a procedure left open
 * for days, whose raw readings would be costly to sort — from the 1-minute
 * aggregates over the whole minutes the window touches (percentiles within
 * 1 %, from the merged sketches). Soft-deleted readings are left out either way.
 */
export async function procedureSensorStats(
  db: Kysely<Database>,
  window: TelemetryWindow,
): Promise<{ source: "raw" | "aggregates"; sensors: SensorSummary[] }> {
  const sensorId = window.sensor === undefined ? undefined : await sensorIdOf(db, window.sensor);
  if (sensorId === null) return { source: "raw", sensors: [] };
  if (window.endMs - window.startMs <= RAW_WINDOW_MAX_MS) {
    const raw = await rawStats(db, window, sensorId);
    if (raw.length > 0) return { source: "raw", sensors: raw };
  }
  const aggregated = await aggregateStats(db, window, sensorId);
  return aggregated.length > 0 ? { source: "aggregates", sensors: aggregated } : { source: "raw", sensors: [] };
}

async function sensorIdOf(db: Kysely<Database>, name: string): Promise<number | null> {
  const row = await db.selectFrom("sensors").select("id").where("name", "=", name).executeTakeFirst();
  return row ? row.id : null;
}

const sensorCondition = (alias: string, sensorId: number | undefined) =>
  sensorId === undefined ? sql`true` : sql`${sql.ref(`${alias}.sensor_id`)} = ${sensorId}`;

async function rawStats(db: Kysely<Database>, w: TelemetryWindow, sensorId: number | undefined) {
  const { rows } = await sql<{
    sensor: string;
    count: number;
    min: number;
    max: number;
    avg: number;
    p: number[];
  }>`
    SELECT s.name AS sensor, b.count, b.min, b.max, b.avg, b.p
    FROM (
      SELECT r.sensor_id, count(*)::float8 AS count, min(r.value) AS min, max(r.value) AS max, avg(r.value) AS avg,
             percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY r.value) AS p
      FROM readings r
      WHERE r.device_id = ${w.deviceId} AND r.time >= ${new Date(w.startMs)} AND r.time < ${new Date(w.endMs)}
        AND r.deleted_at IS NULL AND ${sensorCondition("r", sensorId)}
      GROUP BY r.sensor_id
    ) AS b JOIN sensors s ON s.id = b.sensor_id
    ORDER BY s.name COLLATE "C"`.execute(db);
  return rows.map((r) => ({
    sensor: r.sensor,
    count: Number(r.count),
    min: Number(r.min),
    max: Number(r.max),
    avg: Number(r.avg),
    p50: Number(r.p[0]),
    p95: Number(r.p[1]),
    p99: Number(r.p[2]),
  }));
}

const MINUTE_MS = 60_000;

async function aggregateStats(db: Kysely<Database>, w: TelemetryWindow, sensorId: number | undefined) {
  const start = new Date(Math.floor(w.startMs / MINUTE_MS) * MINUTE_MS);
  const end = new Date(Math.ceil(w.endMs / MINUTE_MS) * MINUTE_MS);
  const where = sql`a.device_id = ${w.deviceId} AND a.bucket >= ${start} AND a.bucket < ${end} AND ${sensorCondition("a", sensorId)}`;
  const totals = await sql<{ sensor_id: number; sensor: string; n: number; total: number; min: number; max: number }>`
    SELECT a.sensor_id, s.name AS sensor, sum(a.count)::float8 AS n, sum(a.sum) AS total, min(a.min) AS min, max(a.max) AS max
    FROM readings_1m a JOIN sensors s ON s.id = a.sensor_id
    WHERE ${where}
    GROUP BY a.sensor_id, s.name
    ORDER BY s.name COLLATE "C"`.execute(db);
  if (totals.rows.length === 0) return [];
  const bins = await sql<{ sensor_id: number; bin: number; c: number }>`
    SELECT a.sensor_id, (e >> 32)::integer AS bin, sum(e & 4294967295)::float8 AS c
    FROM readings_1m a, unnest(a.sketch) AS e
    WHERE ${where}
    GROUP BY 1, 2
    ORDER BY 1, 2`.execute(db);
  const histograms = new Map<number, Array<[number, number]>>();
  for (const b of bins.rows) {
    const id = Number(b.sensor_id);
    const h = histograms.get(id) ?? [];
    histograms.set(id, h);
    h.push([Number(b.bin), Number(b.c)]);
  }
  return totals.rows.map((t) => {
    const n = Number(t.n);
    const min = Number(t.min);
    const max = Number(t.max);
    const h = histograms.get(Number(t.sensor_id)) ?? [];
    const at = (percent: number) => {
      const rank = nearestRank(percent, n);
      let upto = 0;
      for (const [bin, c] of h) {
        upto += c;
        if (upto >= rank) return Math.min(max, Math.max(min, sketchBinValue(bin)));
      }
      return max;
    };
    return { sensor: t.sensor, count: n, min, max, avg: Number(t.total) / n, p50: at(50), p95: at(95), p99: at(99) };
  });
}

/**
 * One page of the robot's raw readings in the window, in (time, sensor)
 * order; `after` is the last row of the previous page.
 */
export async function procedureReadings(
  db: Kysely<Database>,
  window: TelemetryWindow,
  page: { limit: number; after?: { timeMs: number; sensorId: number } },
): Promise<Array<TelemetryReading & { sensorId: number }>> {
  const sensorId = window.sensor === undefined ? undefined : await sensorIdOf(db, window.sensor);
  if (sensorId === null) return [];
  const after = page.after;
  const { rows } = await sql<{ sensor_id: number; sensor: string; time: Date; value: number }>`
    SELECT r.sensor_id, s.name AS sensor, r.time, r.value
    FROM readings r JOIN sensors s ON s.id = r.sensor_id
    WHERE r.device_id = ${window.deviceId} AND r.time >= ${new Date(after ? after.timeMs : window.startMs)}
      AND r.time < ${new Date(window.endMs)} AND r.deleted_at IS NULL AND ${sensorCondition("r", sensorId)}
      ${after ? sql`AND (r.time, r.sensor_id) > (${new Date(after.timeMs)}, ${after.sensorId})` : sql``}
    ORDER BY r.time, r.sensor_id
    LIMIT ${page.limit}`.execute(db);
  return rows.map((r) => ({
    sensorId: Number(r.sensor_id),
    sensor: r.sensor,
    timeMs: r.time.getTime(),
    value: Number(r.value),
  }));
}

import { type Kysely, type RawBuilder, sql } from "kysely";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./lifecycle-settings.ts";
import { isLatencyTuned } from "./open-database.ts";
import type { Database } from "./schema.ts";
import { resolveSeriesIds, type SeriesIds } from "./series-ids.ts";
import { nearestRank, sketchBinValue } from "./sketch.ts";

/** Which readings a stats query covers; every field is optional. */
export interface ReadingStatsFilter {
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  /** Inclusive start, ms since the epoch. */
  startMs?: number;
  /** Exclusive end, ms since the epoch. */
  endMs?: number;
  /** Devices at this site, of this kind, carrying every one of these labels. */
  site?: string;
  deviceKind?: string;
  deviceLabels?: Record<string, string>;
}

/** The figures for one sensor in one time bucket, over every matching device. */
export interface ReadingStatsRow {
  /** Bucket start, a multiple of the bucket width since the Unix epoch. */
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

/** Where the figures come from: raw rows, or the 1-minute or 1-hour aggregates. */
export type StatsSource = "raw" | "1m" | "1h";

export interface ReadingStatsOptions {
  /** Force a source (tests, diagnostics); by default chooseStatsSource decides. */
  source?: StatsSource;
  /** "Now" for an open-ended range; defaults to the clock. */
  nowMs?: number;
}

/** Ranges up to this long are answered from raw rows, exactly. */
export const RAW_STATS_MAX_SPAN_MS = 6 * HOUR_MS;
/** Ranges up to this long use the 1-minute aggregates when the bucket allows; longer ones the 1-hour ones. */
export const MINUTE_STATS_MAX_SPAN_MS = 7 * DAY_MS;

/**
 * Picks the cheapest source that can answer: raw rows for narrow ranges
 * (≤ 6 h) and for buckets that are not whole minutes; the 1-hour aggregates
 * for ranges over 7 days (or open-ended) when the bucket is whole hours;
 * the 1-minute aggregates otherwise.
 */
export function chooseStatsSource(filter: ReadingStatsFilter, bucketMs: number, nowMs = Date.now()): StatsSource {
  const span =
    filter.startMs === undefined ? Number.POSITIVE_INFINITY : (filter.endMs ?? nowMs + 5 * MINUTE_MS) - filter.startMs;
  if (bucketMs % MINUTE_MS !== 0 || span <= RAW_STATS_MAX_SPAN_MS) return "raw";
  if (bucketMs % HOUR_MS === 0 && span > MINUTE_STATS_MAX_SPAN_MS) return "1h";
  return "1m";
}

/**
 * The source readingStats answers from: options.source or chooseStatsSource,
 * and raw rows when the range holds no whole aggregate bucket. Tells clients
 * how exact the percentiles are (see readingStats).
 */
export function statsSource(
  filter: ReadingStatsFilter,
  bucketMs: number,
  options: ReadingStatsOptions = {},
): StatsSource {
  const source = options.source ?? chooseStatsSource(filter, bucketMs, options.nowMs);
  if (source === "raw") return source;
  const width = source === "1h" ? HOUR_MS : MINUTE_MS;
  if (bucketMs % width !== 0) throw new RangeError(`bucketMs must be a multiple of ${width}`);
  const aggStart = filter.startMs === undefined ? undefined : Math.ceil(filter.startMs / width) * width;
  const aggEnd = filter.endMs === undefined ? undefined : Math.floor(filter.endMs / width) * width;
  return aggStart !== undefined && aggEnd !== undefined && aggStart >= aggEnd ? "raw" : source;
}

/**
 * Count, min, max, avg and percentiles of live (not soft-deleted) readings
 * per (time bucket, sensor), over every device the filter matches, sorted by
 * bucket then sensor. Buckets are `bucketMs` wide and aligned to the Unix
 * epoch; only buckets with readings appear. Same results on TimescaleDB and
 * plain PostgreSQL.
 *
 * How exact each figure is:
 * - count, min, max: exact, from any source.
 * - avg: sum / count in double precision, exact up to floating-point
 *   summation order.
 * - p50, p95, p99 from raw rows (narrow ranges, see chooseStatsSource):
 *   exact, `percentile_cont` (linear interpolation between neighbours).
 * - p50, p95, p99 from the aggregates: within 1 % (relative; 1e-9 absolute
 *   near zero) of the exact nearest-rank percentile (`percentile_disc`),
 *   read from the mergeable log-histogram sketch stored with each aggregate
 *   row (see sketch.ts) and clamped to [min, max]. percentile_disc and
 *   percentile_cont differ at most by the gap between two neighbouring
 *   readings.
 *
 * Aggregates reflect updates and deletes of old readings after their next
 * refresh (every minute for 1 m, 30 minutes for 1 h); the newest buckets come
 * from raw rows (real-time aggregation), and edges of a range that do not
 * fall on whole aggregate buckets are read from raw rows too.
 */
export async function readingStats(
  db: Kysely<Database>,
  filter: ReadingStatsFilter,
  bucketMs: number,
  options: ReadingStatsOptions = {},
): Promise<ReadingStatsRow[]> {
  if (!Number.isSafeInteger(bucketMs) || bucketMs <= 0) throw new RangeError("bucketMs must be a positive integer");
  const source = statsSource(filter, bucketMs, options);
  const width = source === "1h" ? HOUR_MS : MINUTE_MS;
  // The span the aggregate rows cover: whole aggregate buckets inside the range.
  const aggStart = filter.startMs === undefined ? undefined : Math.ceil(filter.startMs / width) * width;
  const aggEnd = filter.endMs === undefined ? undefined : Math.floor(filter.endMs / width) * width;
  const ids = await resolveSeriesIds(db, filter);
  if (!ids) return [];
  const timescale = source === "raw" ? false : await isTimescale(db);
  const run = (tx: Kysely<Database>) =>
    source === "raw"
      ? rawStats(tx, filter, ids, bucketMs)
      : aggregateStats(tx, timescale, filter, ids, bucketMs, source, aggStart, aggEnd);
  // A pool opened latencyTuned has the settings below on every connection: no transaction, three
  // round trips fewer per call (each a wait for a CPU on a loaded machine).
  if (db.isTransaction || isLatencyTuned(db)) return run(db);
  return db.transaction().execute(async (tx) => {
    // Latency settings for these statements only. Their estimated cost is
    // high (the real-time part of the aggregates is estimated over the whole
    // raw table, since its start is the watermark, read at run time), so
    // PostgreSQL compiled ~800 expressions with JIT (2 s of a 3.5 s call on a
    // month of readings) and started parallel workers (20 ms) for a part that
    // holds minutes of rows.
    await sql`SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)`.execute(
      tx,
    );
    return run(tx);
  });
}

/** The filter's devices and sensor, as constants (see resolveSeriesIds). */
function seriesFilter(ids: SeriesIds, alias: "r" | "a"): RawBuilder<unknown>[] {
  const where: RawBuilder<unknown>[] = [];
  const t = sql.ref(alias);
  if (ids.deviceIds !== undefined) where.push(sql`${t}.device_id IN (${sql.join(ids.deviceIds)})`);
  if (ids.sensorId !== undefined) where.push(sql`${t}.sensor_id = ${ids.sensorId}`);
  return where;
}

/** `floor(epoch_ms / b) * b` of a timestamptz, exact (numeric arithmetic). */
function bucketOf(expr: RawBuilder<unknown>, bucketMs: number) {
  return sql`(floor(extract(epoch FROM ${expr}) * 1000 / ${bucketMs}::numeric) * ${bucketMs}::numeric)::float8`;
}

function and(conditions: RawBuilder<unknown>[]) {
  return conditions.length === 0 ? sql`true` : sql.join(conditions, sql` AND `);
}

async function rawStats(db: Kysely<Database>, filter: ReadingStatsFilter, ids: SeriesIds, bucketMs: number) {
  const where = [sql`r.deleted_at IS NULL`, ...seriesFilter(ids, "r")];
  if (filter.startMs !== undefined) where.push(sql`r.time >= ${new Date(filter.startMs)}`);
  if (filter.endMs !== undefined) where.push(sql`r.time < ${new Date(filter.endMs)}`);
  const { rows } = await sql<{
    bucket_ms: number;
    sensor: string;
    count: number;
    min: number;
    max: number;
    avg: number;
    p: number[];
  }>`
    SELECT b.bucket_ms, s.name AS sensor, b.count, b.min, b.max, b.avg, b.p
    FROM (
      SELECT ${bucketOf(sql`r.time`, bucketMs)} AS bucket_ms, r.sensor_id,
             count(*)::float8 AS count, min(r.value) AS min, max(r.value) AS max, avg(r.value) AS avg,
             percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY r.value) AS p
      FROM readings r
      WHERE ${and(where)}
      GROUP BY 1, 2
    ) AS b JOIN sensors s ON s.id = b.sensor_id
    ORDER BY 1, s.name COLLATE "C"`.execute(db);
  return rows.map((r) => ({
    bucketStartMs: Number(r.bucket_ms),
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

/** Whether a database (a root Kysely instance) has TimescaleDB: asked once per instance. */
const engines = new WeakMap<object, Promise<boolean>>();
function isTimescale(db: Kysely<Database>): Promise<boolean> {
  let known = engines.get(db);
  if (!known) {
    known = sql<{ present: boolean }>`
      SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`
      .execute(db)
      .then(({ rows }) => rows[0]?.present === true);
    engines.set(db, known);
    known.catch(() => engines.delete(db));
  }
  return known;
}

/**
 * Where the hourly aggregate's materialized buckets end (ms), or undefined
 * when none are: TimescaleDB's watermark of the continuous aggregate, or the
 * rollups' watermark on plain PostgreSQL (the fleet rollup shares it).
 */
async function hourlyWatermark(tx: Kysely<Database>, timescale: boolean, view: string): Promise<number | undefined> {
  const { rows } = timescale
    ? await sql<{ w: number | null }>`
        SELECT CASE WHEN isfinite(w) THEN (extract(epoch FROM w) * 1000)::float8 END AS w
        FROM (SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(mat_hypertable_id)) AS w
              FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = ${view}) AS c`.execute(tx)
    : await sql<{ w: number | null }>`
        SELECT CASE WHEN isfinite(watermark_1h) THEN (extract(epoch FROM watermark_1h) * 1000)::float8 END AS w
        FROM rollup_state`.execute(tx);
  const w = rows[0]?.w;
  // TimescaleDB's watermark of an aggregate never refreshed is the start of time.
  return w === null || w === undefined || w < 0 ? undefined : Number(w);
}

async function aggregateStats(
  db: Kysely<Database>,
  timescale: boolean,
  filter: ReadingStatsFilter,
  ids: SeriesIds,
  bucketMs: number,
  source: "1m" | "1h",
  aggStart: number | undefined,
  aggEnd: number | undefined,
) {
  const parts: RawBuilder<unknown>[] = [];
  const selectFrom = (relation: RawBuilder<unknown>, lo: number | undefined, hi: number | undefined) => {
    const where = seriesFilter(ids, "a");
    if (lo !== undefined) where.push(sql`a.bucket >= ${new Date(lo)}`);
    if (hi !== undefined) where.push(sql`a.bucket < ${new Date(hi)}`);
    parts.push(sql`
      SELECT ${bucketOf(sql`a.bucket`, bucketMs)} AS bucket_ms, a.sensor_id, a.count::float8 AS n, a.sum, a.min, a.max,
             array_send(a.sketch) AS sketch
      FROM ${relation} a WHERE ${and(where)}`);
  };
  if (source === "1m") {
    selectFrom(sql.table("readings_1m"), aggStart, aggEnd);
  } else {
    // The hourly buckets come from what is materialized; the hours after its
    // watermark (1 to 2.5 hours of a busy fleet's raw rows, which the hourly
    // view would aggregate at query time) from the minute aggregates, whose
    // own unmaterialized tail is a minute or two. A chart without a device
    // filter reads the fleet-wide hourly aggregate (migration 0012).
    const fleet = ids.deviceIds === undefined;
    const view = fleet ? "readings_1h_fleet" : "readings_1h";
    const watermark = await hourlyWatermark(db, timescale, view);
    const split =
      watermark === undefined ? aggStart : Math.min(aggEnd ?? watermark, Math.max(aggStart ?? 0, watermark));
    if (watermark !== undefined && (aggStart === undefined || aggStart < split!)) {
      // Materialized rows only: plain PostgreSQL's rollup table; on TimescaleDB the view with a
      // constant bound at the watermark, which its planner turns into an empty raw-rows branch.
      const relation = timescale ? sql.table(view) : sql.table(`${view}_rollup`);
      selectFrom(relation, aggStart, split);
    }
    if (aggEnd === undefined || split === undefined || split < aggEnd)
      selectFrom(sql.table("readings_1m"), split, aggEnd);
  }
  // Raw rows at the edges of the range that do not fill a whole aggregate bucket.
  const edges: RawBuilder<unknown>[] = [];
  if (filter.startMs !== undefined && aggStart !== undefined && filter.startMs < aggStart) {
    edges.push(sql`(r.time >= ${new Date(filter.startMs)} AND r.time < ${new Date(aggStart)})`);
  }
  if (filter.endMs !== undefined && aggEnd !== undefined && aggEnd < filter.endMs) {
    edges.push(sql`(r.time >= ${new Date(aggEnd)} AND r.time < ${new Date(filter.endMs)})`);
  }
  if (edges.length > 0) {
    parts.push(sql`
      SELECT ${bucketOf(sql`r.time`, bucketMs)}, r.sensor_id, count(*)::float8, sum(r.value), min(r.value), max(r.value),
             array_send(vigil_sketch(array_agg(vigil_sketch_bin(r.value))))
      FROM readings r
      WHERE r.deleted_at IS NULL AND (${sql.join(edges, sql` OR `)}) AND ${and(seriesFilter(ids, "r"))}
      GROUP BY 1, 2`);
  }
  // Every part comes back as it is, its sketch in PostgreSQL's binary array
  // format (array_send, which decodes six times faster than text), and the
  // parts of a chart bucket (several devices, a bucket wider than the
  // aggregate's, a range edge) are merged here: adding the counts of equal
  // bins in SQL (unnest, sort, group) took PostgreSQL 1.2 s for the 890,000
  // bins of a fleet-wide month.
  const { rows } = await sql<{
    bucket_ms: number;
    sensor: string;
    n: number;
    sum: number;
    min: number;
    max: number;
    sketch: Uint8Array;
  }>`
    SELECT p.bucket_ms, s.name AS sensor, p.n, p.sum, p.min, p.max, p.sketch
    FROM (${sql.join(parts, sql` UNION ALL `)}) AS p (bucket_ms, sensor_id, n, sum, min, max, sketch)
    JOIN sensors s ON s.id = p.sensor_id`.execute(db);

  const groups = new Map<
    string,
    { bucketMs: number; sensor: string; n: number; sum: number; min: number; max: number; sketches: Uint8Array[] }
  >();
  for (const r of rows) {
    const key = `${r.bucket_ms}\u0000${r.sensor}`;
    const g = groups.get(key);
    if (g) {
      g.n += Number(r.n);
      g.sum += Number(r.sum);
      g.min = Math.min(g.min, Number(r.min));
      g.max = Math.max(g.max, Number(r.max));
      g.sketches.push(r.sketch);
    } else {
      groups.set(key, {
        bucketMs: Number(r.bucket_ms),
        sensor: r.sensor,
        n: Number(r.n),
        sum: Number(r.sum),
        min: Number(r.min),
        max: Number(r.max),
        sketches: [r.sketch],
      });
    }
  }
  return [...groups.values()]
    .sort((a, b) => a.bucketMs - b.bucketMs || (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : 0))
    .map((g) => {
      const ranks = [nearestRank(50, g.n), nearestRank(95, g.n), nearestRank(99, g.n)] as const;
      // One sketch (a chart bucket as wide as the aggregate's, one device or the fleet aggregate) is read in
      // place, in one pass for the three ranks; several are merged first.
      const bins =
        g.sketches.length === 1
          ? sketchBinsAtRanks(g.sketches[0]!, ranks)
          : binsAtRanks(mergeSketches(g.sketches), ranks);
      const estimate = (bin: number) => Math.min(g.max, Math.max(g.min, sketchBinValue(bin)));
      return {
        bucketStartMs: g.bucketMs,
        sensor: g.sensor,
        count: g.n,
        min: g.min,
        max: g.max,
        avg: g.sum / g.n,
        p50: estimate(bins[0]),
        p95: estimate(bins[1]),
        p99: estimate(bins[2]),
      };
    });
}

/** Ascending 1-based ranks, and the bins found at them. */
type Ranks = readonly [number, number, number];

/**
 * The bins at the ranks of one sketch, read in place (no arrays built, one
 * pass for all three). A sketch (int8[] of bin << 32 | count) comes in
 * PostgreSQL's binary array format: a 20-byte header (one dimension), then
 * per element a 4-byte length and the big-endian int8, whose high half is the
 * bin and low half the count.
 */
function sketchBinsAtRanks(bytes: Uint8Array, ranks: Ranks): [number, number, number] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: [number, number, number] = [0, 0, 0];
  let next = 0;
  let upto = 0;
  let bin = 0;
  for (let at = 20; at + 12 <= bytes.byteLength && next < 3; at += 12) {
    bin = view.getInt32(at + 4);
    upto += view.getUint32(at + 8);
    while (next < 3 && upto >= ranks[next]!) found[next++] = bin;
  }
  while (next < 3) found[next++] = bin; // ranks past the sketch's total: its last bin
  return found;
}

/** The same for a merged histogram. */
function binsAtRanks(h: Histogram, ranks: Ranks): [number, number, number] {
  const found: [number, number, number] = [0, 0, 0];
  let next = 0;
  let upto = 0;
  for (let i = 0; i < h.bins.length && next < 3; i++) {
    upto += h.counts[i]!;
    while (next < 3 && upto >= ranks[next]!) found[next++] = h.bins[i]!;
  }
  while (next < 3) found[next++] = h.bins.at(-1) ?? 0;
  return found;
}

interface Histogram {
  /** Sketch bins, ascending. */
  bins: number[];
  /** Values in each bin. */
  counts: number[];
}

/** Several sketches as one histogram: the counts of equal bins added, bins ascending. */
function mergeSketches(sketches: Uint8Array[]): Histogram {
  const counts = new Map<number, number>();
  for (const bytes of sketches) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 20; at + 12 <= bytes.byteLength; at += 12) {
      const bin = view.getInt32(at + 4);
      counts.set(bin, (counts.get(bin) ?? 0) + view.getUint32(at + 8));
    }
  }
  const bins = [...counts.keys()].sort((a, b) => a - b);
  return { bins, counts: bins.map((b) => counts.get(b)!) };
}

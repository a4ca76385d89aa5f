import { type Kysely, type RawBuilder, sql } from "kysely";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./lifecycle-settings.ts";
import type { Database } from "./schema.ts";

/**
 * Advisory lock key shared by the invalidation trigger (shared) and the
 * threshold move (exclusive). Arbitrary, fixed: "VIGR" in ASCII.
 */
export const ROLLUP_THRESHOLD_LOCK = 0x56494752;

export interface RollupRefreshOptions {
  nowMs: number;
  /** Buckets older than now − this are neither materialized nor recomputed (see refreshWindowMs). */
  windowMs: number;
  /** Most new time a run materializes, so a large backlog is taken in steps. */
  maxStepMs?: number;
}

export interface RollupRefreshOutcome {
  /** Hours recomputed because rows in them changed after they were rolled up. */
  invalidatedHours: number;
  /** Watermarks after the run: buckets before them are materialized. */
  watermark1mMs: number;
  watermark1hMs: number;
}

const MAX_STEP_MS = 7 * DAY_MS;

/**
 * Plain PostgreSQL only: brings the 1-minute and 1-hour rollups up to date,
 * like a TimescaleDB refresh policy. First the invalidation threshold moves
 * to a minute before the last complete one (waiting for inserts that read
 * the old threshold),
 * then one transaction recomputes the invalidated hours and the new buckets
 * from raw rows (soft-deleted rows excluded) and advances the watermarks.
 */
export async function refreshRollups(
  db: Kysely<Database>,
  options: RollupRefreshOptions,
): Promise<RollupRefreshOutcome> {
  // One minute behind the clock (TimescaleDB's end_offset): readings that
  // arrive with a little pipeline latency still land above the watermark,
  // where the views read them live, instead of invalidating a rolled-up minute.
  const threshold = floorTo(options.nowMs - MINUTE_MS, MINUTE_MS);
  const windowStart = floorTo(options.nowMs - options.windowMs, HOUR_MS);
  await db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(${ROLLUP_THRESHOLD_LOCK})`.execute(tx);
    await sql`UPDATE rollup_state SET threshold = greatest(threshold, ${new Date(threshold)})`.execute(tx);
  });

  return db.transaction().execute(async (tx) => {
    const { rows: state } = await sql<{ w1m: number | null; w1h: number | null }>`
      SELECT ${epochMs(sql.ref("watermark_1m"))} AS w1m, ${epochMs(sql.ref("watermark_1h"))} AS w1h
      FROM rollup_state FOR UPDATE`.execute(tx);
    const { rows: invalid } = await sql<{ hour: number }>`
      WITH taken AS (DELETE FROM rollup_invalidations RETURNING hour)
      SELECT DISTINCT ${epochMs(sql.ref("hour"))} AS hour FROM taken ORDER BY 1`.execute(tx);
    const hours = invalid.map((r) => Number(r.hour)).filter((h) => h >= windowStart);

    // -infinity (never refreshed) comes back as null: start at the oldest row in the window.
    let from1m = state[0]?.w1m ?? null;
    const old1h = state[0]?.w1h ?? null;
    if (from1m === null || from1m < windowStart) from1m = await oldestBucket(tx, windowStart, threshold);
    const to1m = Math.max(from1m, Math.min(threshold, from1m + (options.maxStepMs ?? MAX_STEP_MS)));
    const from1h = old1h === null || old1h < windowStart ? floorTo(from1m, HOUR_MS) : old1h;
    const to1h = Math.max(from1h, floorTo(to1m, HOUR_MS));

    const ranges1m = mergeRanges([
      ...hours.filter((h) => h < from1m).map((h) => [h, Math.min(h + HOUR_MS, from1m)] as const),
      [from1m, to1m] as const,
    ]);
    const ranges1h = mergeRanges([
      ...hours.filter((h) => h < from1h).map((h) => [h, h + HOUR_MS] as const),
      [from1h, to1h] as const,
    ]);
    for (const [lo, hi] of ranges1m) await recompute(tx, "readings_1m_rollup", "1 minute", lo, hi);
    // A database not yet at migration 0012 (a lifecycle service started before the migrations finished,
    // or an upgrade test) has no fleet rollup: its per-device rollups are still kept up to date, and
    // 0012 fills the fleet rollup from them.
    const fleet = await hasFleetRollup(tx);
    for (const [lo, hi] of ranges1h) {
      await recompute(tx, "readings_1h_rollup", "1 hour", lo, hi);
      if (fleet) await recomputeFleet(tx, lo, hi);
    }
    await sql`
      UPDATE rollup_state SET watermark_1m = ${new Date(to1m)}, watermark_1h = ${new Date(to1h)}`.execute(tx);
    return { invalidatedHours: hours.length, watermark1mMs: to1m, watermark1hMs: to1h };
  });
}

/** Start of the first hour with rows at or after windowStart, or `fallback` when there are none. */
async function oldestBucket(tx: Kysely<Database>, windowStart: number, fallback: number): Promise<number> {
  const { rows } = await sql<{ t: number | null }>`
    SELECT ${epochMs(sql`min(time)`)} AS t FROM readings WHERE time >= ${new Date(windowStart)}`.execute(tx);
  const t = rows[0]?.t;
  return t === null || t === undefined ? fallback : Math.min(fallback, floorTo(Number(t), HOUR_MS));
}

async function recompute(tx: Kysely<Database>, table: string, width: string, lo: number, hi: number): Promise<void> {
  if (hi <= lo) return;
  await sql`DELETE FROM ${sql.table(table)} WHERE bucket >= ${new Date(lo)} AND bucket < ${new Date(hi)}`.execute(tx);
  await sql`
    INSERT INTO ${sql.table(table)} (bucket, device_id, sensor_id, count, sum, min, max, sketch)
    SELECT date_bin(${width}::interval, time, TIMESTAMPTZ 'epoch'), device_id, sensor_id,
           count(*), sum(value), min(value), max(value), vigil_sketch(array_agg(vigil_sketch_bin(value)))
    FROM readings
    WHERE time >= ${new Date(lo)} AND time < ${new Date(hi)} AND deleted_at IS NULL
    GROUP BY 1, 2, 3`.execute(tx);
}

async function hasFleetRollup(tx: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass('readings_1h_fleet_rollup')::text AS t`.execute(
    tx,
  );
  return rows[0]?.t != null;
}

/** The fleet-wide hourly rollup (migration 0012) of the hours [lo, hi), from the hourly rollup just recomputed. */
async function recomputeFleet(tx: Kysely<Database>, lo: number, hi: number): Promise<void> {
  if (hi <= lo) return;
  await sql`DELETE FROM readings_1h_fleet_rollup WHERE bucket >= ${new Date(lo)} AND bucket < ${new Date(hi)}`.execute(
    tx,
  );
  await sql`
    INSERT INTO readings_1h_fleet_rollup (bucket, sensor_id, count, sum, min, max, sketch)
    SELECT bucket, sensor_id, sum(count), sum(sum), min(min), max(max), vigil_sketch_merge(sketch)
    FROM readings_1h_rollup
    WHERE bucket >= ${new Date(lo)} AND bucket < ${new Date(hi)}
    GROUP BY 1, 2`.execute(tx);
}

/** Milliseconds since the epoch of a timestamptz expression; null for ±infinity and NULL. */
function epochMs(expr: RawBuilder<unknown>) {
  return sql`CASE WHEN isfinite(${expr}) THEN (extract(epoch FROM ${expr}) * 1000)::float8 END`;
}

function floorTo(ms: number, unit: number): number {
  return Math.floor(ms / unit) * unit;
}

/** Sorts and merges overlapping or touching [lo, hi) ranges. */
export function mergeRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = ranges.filter(([lo, hi]) => hi > lo).sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/**
 * Plain PostgreSQL: recomputes both rollups (and the fleet-wide hourly one
 * with the hourly) over [loMs, hiMs) from raw rows,
 * below their watermarks only (above them the views read raw rows anyway).
 * The lifecycle service calls it before raw rows leave, so the rollups hold their
 * final state even for ranges no refresh window covered. `levels`: the
 * rollups to recompute (one already past its own retention is left out).
 */
export async function recomputeRollups(
  db: Kysely<Database>,
  loMs: number,
  hiMs: number,
  levels: ReadonlyArray<"1m" | "1h"> = ["1m", "1h"],
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ w1m: number | null; w1h: number | null }>`
      SELECT ${epochMs(sql.ref("watermark_1m"))} AS w1m, ${epochMs(sql.ref("watermark_1h"))} AS w1h
      FROM rollup_state FOR UPDATE`.execute(tx);
    const w1m = rows[0]?.w1m ?? null;
    const w1h = rows[0]?.w1h ?? null;
    if (w1m !== null && levels.includes("1m")) {
      await recompute(tx, "readings_1m_rollup", "1 minute", loMs, Math.min(hiMs, Number(w1m)));
    }
    if (w1h !== null && levels.includes("1h")) {
      const [lo, hi] = [floorTo(loMs, HOUR_MS), Math.min(hiMs, Number(w1h))];
      await recompute(tx, "readings_1h_rollup", "1 hour", lo, hi);
      await recomputeFleet(tx, lo, hi);
    }
  });
}

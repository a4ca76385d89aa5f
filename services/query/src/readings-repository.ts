import {
  type Database,
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type ReadingsTable,
  registerSensors,
  type SeriesIds,
  type SqlBool,
  sql,
} from "@vigil/db";
import { FailedPreconditionError } from "./errors.ts";
import type { ReadingFilter } from "./reading-filter.ts";

/** A reading with its device and sensor names resolved. */
export interface ReadingRow {
  time: Date;
  value: number;
  seq: number;
  received_at: Date;
  updated_at: Date | null;
  device_id: number;
  sensor_id: number;
  /** reading_sources id (provenance); null when unknown. */
  source_id: number | null;
  device_code: string;
  device_number: number;
  sensor: string;
}

type ReadingsScope = ExpressionBuilder<Database & { r: ReadingsTable }, "r">;

/** The conditions of a filter whose names are resolved, soft-deleted rows included; every value a bound parameter. */
function seriesMatches(eb: ReadingsScope, filter: ReadingFilter, ids: SeriesIds): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  // One id is compared with `=` (PostgreSQL turns a one-element IN list into it).
  if (ids.deviceIds !== undefined) conditions.push(eb("r.device_id", "in", ids.deviceIds));
  if (ids.sensorId !== undefined) conditions.push(eb("r.sensor_id", "=", ids.sensorId));
  if (filter.startMs !== undefined) conditions.push(eb("r.time", ">=", new Date(filter.startMs)));
  if (filter.endMs !== undefined) conditions.push(eb("r.time", "<", new Date(filter.endMs)));
  return eb.and(conditions);
}

/** The same, live rows only. */
function liveMatches(eb: ReadingsScope, filter: ReadingFilter, ids: SeriesIds): Expression<SqlBool> {
  return eb.and([eb("r.deleted_at", "is", null), seriesMatches(eb, filter, ids)]);
}

export interface PageRequest {
  limit: number;
  newestFirst: boolean;
  /** The sort key of the last row of the previous page. */
  after?: { timeMs: number; deviceId: number; sensorId: number };
}

/** One page in (time, device, sensor) order: a stable keyset under concurrent inserts. */
export async function listReadings(
  db: Kysely<Database>,
  filter: ReadingFilter,
  ids: SeriesIds,
  page: PageRequest,
): Promise<ReadingRow[]> {
  return listReadingsQuery(db, filter, ids, page).execute();
}

/**
 * The statement behind listReadings, unexecuted (tests EXPLAIN it). Its order
 * is the order of the `readings_time_series` index (migration 0020), so an
 * unfiltered page is an index scan that stops after the page, on partitions
 * and on hypertable chunks alike.
 */
export function listReadingsQuery(db: Kysely<Database>, filter: ReadingFilter, ids: SeriesIds, page: PageRequest) {
  const direction = page.newestFirst ? "desc" : "asc";
  let q = db.selectFrom("readings as r").where((eb) => liveMatches(eb, filter, ids));
  const after = page.after;
  if (after) {
    const at = new Date(after.timeMs);
    // The row comparison is the keyset, an index condition of the
    // (time, device_id, sensor_id) index; the plain bound on time, which it
    // implies, is what the (device_id, sensor_id, time) index can start from
    // (and what prunes partitions and chunks before the cursor).
    q = q
      .where("r.time", page.newestFirst ? "<=" : ">=", at)
      .where((eb) =>
        eb(
          eb.refTuple("r.time", "r.device_id", "r.sensor_id"),
          page.newestFirst ? "<" : ">",
          eb.tuple(at, after.deviceId, after.sensorId),
        ),
      );
  }
  return q
    .innerJoin("devices as d", "d.id", "r.device_id")
    .innerJoin("sensors as s", "s.id", "r.sensor_id")
    .select([
      "r.time",
      "r.value",
      "r.seq",
      "r.received_at",
      "r.updated_at",
      "r.device_id",
      "r.sensor_id",
      "r.source_id",
      "d.code as device_code",
      "d.number as device_number",
      "s.name as sensor",
    ])
    .orderBy("r.time", direction)
    .orderBy("r.device_id", direction)
    .orderBy("r.sensor_id", direction)
    .limit(page.limit);
}

/**
 * Matching live readings are counted exactly up to this many; beyond it
 * total_size is an estimate (the ten million of an unfiltered list would
 * take seconds to count).
 */
export const EXACT_COUNT_LIMIT = 1000;

/**
 * Soft-deleted matches counted through the `readings_deleted` index before
 * the count falls back to reading each match's heap page (a filter over
 * mostly deleted readings).
 */
const DELETED_COUNT_LIMIT = 10_000;

/**
 * Number of live readings matching a filter: exact when at most
 * EXACT_COUNT_LIMIT, otherwise PostgreSQL's planner estimate of the rows
 * the filter matches (from the per-partition statistics autovacuum keeps),
 * never below EXACT_COUNT_LIMIT + 1.
 *
 * Exact counts are all matches minus the soft-deleted ones: the first from
 * the unique index alone (an index-only scan; deleted_at is in no index, so
 * counting live rows directly reads one heap page per match: 8 ms for a
 * thousand), the second from the small `readings_deleted` index
 * (migration 0006).
 */
export async function countReadings(db: Kysely<Database>, filter: ReadingFilter, ids: SeriesIds): Promise<number> {
  const capped = (where: (eb: ReadingsScope) => Expression<SqlBool>) =>
    db.selectFrom("readings as r").where(where).select(sql.lit(1).as("one"));
  // One statement, one round trip: the deleted matches first, then all matches up to as many
  // more than EXACT_COUNT_LIMIT (a LIMIT may be an uncorrelated subquery).
  const deletedMatches = capped((eb) => eb.and([eb("r.deleted_at", "is not", null), seriesMatches(eb, filter, ids)]));
  const allMatches = capped((eb) => seriesMatches(eb, filter, ids));
  const { rows } = await sql<{ deleted: number; all: number }>`
    WITH d AS MATERIALIZED (SELECT count(*) AS n FROM (${deletedMatches.limit(DELETED_COUNT_LIMIT + 1)}) AS m)
    SELECT d.n::float8 AS deleted,
           (SELECT count(*) FROM (${allMatches.limit(sql<number>`(SELECT n FROM d) + ${EXACT_COUNT_LIMIT + 1}`)}) AS m)::float8 AS all
    FROM d`.execute(db);
  const deleted = Number(rows[0]?.deleted);
  let exact = Number(rows[0]?.all) - deleted; // above EXACT_COUNT_LIMIT when the LIMIT cut the count short
  if (deleted > DELETED_COUNT_LIMIT) {
    const row = await db
      .selectFrom(
        capped((eb) => liveMatches(eb, filter, ids))
          .limit(EXACT_COUNT_LIMIT + 1)
          .as("m"),
      )
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    exact = Number(row.n);
  }
  if (exact <= EXACT_COUNT_LIMIT) return exact;
  const [plan] = await db
    .selectFrom("readings as r")
    .where((eb) => seriesMatches(eb, filter, ids))
    .select(sql.lit(1).as("one"))
    .explain<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }>("json");
  const estimate = Math.round(Number(plan?.["QUERY PLAN"][0].Plan["Plan Rows"]));
  return Math.max(EXACT_COUNT_LIMIT + 1, Number.isFinite(estimate) ? estimate - deleted : 0);
}

/**
 * The id of a sensor name, registering it when new (a correction may
 * introduce one). Looked up first: an INSERT … ON CONFLICT spends an id
 * every time, even for a name that exists.
 */
export async function sensorId(db: Kysely<Database>, name: string): Promise<number> {
  const found = await registerSensors(db, [name]);
  if (!found.ok) throw new FailedPreconditionError(found.reason);
  return found.ids.get(name)!;
}

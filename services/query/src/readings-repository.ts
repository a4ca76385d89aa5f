import {
  type Database,
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type ReadingsTable,
  type SqlBool,
  sql,
} from "@vigil/db";
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
  device_code: string;
  device_number: number;
  sensor: string;
}

type ReadingsScope = ExpressionBuilder<Database & { r: ReadingsTable }, "r">;

/**
 * A filter's conditions over `readings as r`: live rows only, devices and
 * sensors matched by id through subqueries (so the same conditions serve
 * SELECT, UPDATE and count). Every value is a bound parameter.
 */
function matches(eb: ReadingsScope, filter: ReadingFilter): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [eb("r.deleted_at", "is", null)];
  if (filter.deviceCode !== undefined || filter.deviceNumber !== undefined) {
    let devices = eb.selectFrom("devices").select("id");
    if (filter.deviceCode !== undefined) devices = devices.where("code", "=", filter.deviceCode);
    if (filter.deviceNumber !== undefined) devices = devices.where("number", "=", filter.deviceNumber);
    conditions.push(eb("r.device_id", "in", devices));
  }
  if (filter.sensor !== undefined) {
    conditions.push(eb("r.sensor_id", "in", eb.selectFrom("sensors").select("id").where("name", "=", filter.sensor)));
  }
  if (filter.startMs !== undefined) conditions.push(eb("r.time", ">=", new Date(filter.startMs)));
  if (filter.endMs !== undefined) conditions.push(eb("r.time", "<", new Date(filter.endMs)));
  return eb.and(conditions);
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
  page: PageRequest,
): Promise<ReadingRow[]> {
  const direction = page.newestFirst ? "desc" : "asc";
  let q = db.selectFrom("readings as r").where((eb) => matches(eb, filter));
  const after = page.after;
  if (after) {
    q = q.where((eb) =>
      eb(
        eb.refTuple("r.time", "r.device_id", "r.sensor_id"),
        page.newestFirst ? "<" : ">",
        eb.tuple(new Date(after.timeMs), after.deviceId, after.sensorId),
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
      "d.code as device_code",
      "d.number as device_number",
      "s.name as sensor",
    ])
    .orderBy("r.time", direction)
    .orderBy("r.device_id", direction)
    .orderBy("r.sensor_id", direction)
    .limit(page.limit)
    .execute();
}

/** Number of live readings matching a filter. */
export async function countReadings(db: Kysely<Database>, filter: ReadingFilter): Promise<number> {
  const row = await db
    .selectFrom("readings as r")
    .where((eb) => matches(eb, filter))
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface ReadingChanges {
  sensorId?: number;
  value?: number;
  timeMs?: number;
}

/** Applies corrections to every live reading matching the filter; returns how many changed. */
export async function updateReadings(
  db: Kysely<Database>,
  filter: ReadingFilter,
  changes: ReadingChanges,
): Promise<number> {
  const result = await db
    .updateTable("readings as r")
    .where((eb) => matches(eb, filter))
    .set({
      ...(changes.sensorId !== undefined ? { sensor_id: changes.sensorId } : {}),
      ...(changes.value !== undefined ? { value: changes.value } : {}),
      ...(changes.timeMs !== undefined ? { time: new Date(changes.timeMs) } : {}),
      updated_at: sql<Date>`now()`,
    })
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Soft-deletes every live reading matching the filter; returns how many. */
export async function softDeleteReadings(db: Kysely<Database>, filter: ReadingFilter): Promise<number> {
  const result = await db
    .updateTable("readings as r")
    .where((eb) => matches(eb, filter))
    .set({ deleted_at: sql<Date>`now()` })
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The id of a sensor name, registering it when new (a correction may introduce one). */
export async function sensorId(db: Kysely<Database>, name: string): Promise<number> {
  await db
    .insertInto("sensors")
    .values({ name })
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const row = await db.selectFrom("sensors").select("id").where("name", "=", name).executeTakeFirstOrThrow();
  return row.id;
}

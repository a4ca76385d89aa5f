import type { Database, Kysely } from "@vigil/db";
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

/**
 * Live (not soft-deleted) readings matching a filter, joined to their
 * device and sensor names. Every value is a bound parameter.
 */
function matching(db: Kysely<Database>, filter: ReadingFilter) {
  let q = db
    .selectFrom("readings as r")
    .innerJoin("devices as d", "d.id", "r.device_id")
    .innerJoin("sensors as s", "s.id", "r.sensor_id")
    .where("r.deleted_at", "is", null);
  if (filter.deviceCode !== undefined) q = q.where("d.code", "=", filter.deviceCode);
  if (filter.deviceNumber !== undefined) q = q.where("d.number", "=", filter.deviceNumber);
  if (filter.sensor !== undefined) q = q.where("s.name", "=", filter.sensor);
  if (filter.startMs !== undefined) q = q.where("r.time", ">=", new Date(filter.startMs));
  if (filter.endMs !== undefined) q = q.where("r.time", "<", new Date(filter.endMs));
  return q;
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
  let q = matching(db, filter).select([
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
  ]);
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
    .orderBy("r.time", direction)
    .orderBy("r.device_id", direction)
    .orderBy("r.sensor_id", direction)
    .limit(page.limit)
    .execute();
}

/** Number of live readings matching a filter. */
export async function countReadings(db: Kysely<Database>, filter: ReadingFilter): Promise<number> {
  const row = await matching(db, filter)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

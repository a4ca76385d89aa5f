import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** The device and sensor names of a readings filter; each optional. */
export interface SeriesNames {
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  /** Devices at this site, of this kind, carrying every one of these labels. */
  site?: string;
  deviceKind?: string;
  deviceLabels?: Record<string, string>;
}

/** True when the names select devices (by name or by metadata). */
export function namesDevices(names: SeriesNames): boolean {
  return (
    names.deviceCode !== undefined ||
    names.deviceNumber !== undefined ||
    names.site !== undefined ||
    names.deviceKind !== undefined ||
    (names.deviceLabels !== undefined && Object.keys(names.deviceLabels).length > 0)
  );
}

/** The conditions on `devices` the names set, every value a bound parameter. */
export function deviceConditions(names: SeriesNames) {
  return [
    ...(names.deviceCode !== undefined ? [sql<boolean>`code = ${names.deviceCode}`] : []),
    ...(names.deviceNumber !== undefined ? [sql<boolean>`number = ${names.deviceNumber}`] : []),
    ...(names.site !== undefined ? [sql<boolean>`site = ${names.site}`] : []),
    ...(names.deviceKind !== undefined ? [sql<boolean>`kind = ${names.deviceKind}`] : []),
    ...(names.deviceLabels !== undefined && Object.keys(names.deviceLabels).length > 0
      ? [sql<boolean>`labels @> ${JSON.stringify(names.deviceLabels)}::jsonb`]
      : []),
  ];
}

/**
 * The ids of the devices and the sensor a filter names. Queries on
 * `readings` and its aggregates compare `device_id` and `sensor_id` with
 * these as constants: PostgreSQL then walks the (device_id, sensor_id, …)
 * indexes in order and estimates row counts from the statistics of those
 * very values, neither of which it can do with `device_id IN (SELECT …)`.
 */
export interface SeriesIds {
  /** Undefined when the filter names no device. */
  deviceIds?: number[];
  /** Undefined when the filter names no sensor. */
  sensorId?: number;
}

/**
 * Looks up the filter's device and sensor names in one round trip (none
 * when it names neither); undefined when a name matches nothing, so no
 * reading can match.
 */
export async function resolveSeriesIds(db: Kysely<Database>, names: SeriesNames): Promise<SeriesIds | undefined> {
  const byDevice = namesDevices(names);
  const bySensor = names.sensor !== undefined;
  if (!byDevice && !bySensor) return {};
  const device = deviceConditions(names);
  const { rows } = await sql<{ devices: number[] | null; sensor: number | null }>`
    SELECT ${byDevice ? sql`(SELECT array_agg(id ORDER BY id) FROM devices WHERE ${sql.join(device, sql` AND `)})` : sql`NULL`} AS devices,
           ${bySensor ? sql`(SELECT id FROM sensors WHERE name = ${names.sensor})` : sql`NULL`} AS sensor`.execute(db);
  const row = rows[0];
  const deviceIds = row?.devices?.map(Number) ?? [];
  const sensorId = row?.sensor ?? null;
  if ((byDevice && deviceIds.length === 0) || (bySensor && sensorId === null)) return undefined;
  return { ...(byDevice ? { deviceIds } : {}), ...(bySensor ? { sensorId: Number(sensorId) } : {}) };
}

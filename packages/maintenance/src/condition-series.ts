import { type Database, type Kysely, sql } from "@vigil/db";
import { type ComponentKind, componentOfSensor } from "./components.ts";
import type { ConditionPoint } from "./forecast.ts";

/** One robot's component, with its daily condition points since the last reset. */
export interface ConditionSeries {
  deviceId: number;
  component: string;
  sensor: string;
  kind: ComponentKind;
  /** End of the last maintenance naming the component; undefined if never. */
  resetMs?: number;
  /** Daily means since max(reset, window start), oldest first. */
  points: ConditionPoint[];
}

export interface ConditionQuery {
  /** Robots to read; all devices that report condition sensors when undefined. */
  deviceIds?: number[];
  nowMs: number;
  /** How far back a trend looks. */
  windowMs: number;
}

/**
 * The condition series of robots, from the 1-hour aggregates
 * (`readings_1h`, so every engine and the archive's retention behave the
 * same): per robot, condition sensor and UTC day, the mean of the readings
 * (sum / count over the hourly rows) at the readings' mean time, using
 * only the hours after the component's last reset and within the window.
 * A component whose readings all come before its reset still appears, with
 * no points.
 */
export async function readConditionSeries(db: Kysely<Database>, query: ConditionQuery): Promise<ConditionSeries[]> {
  const sensors = await conditionSensors(db);
  if (sensors.length === 0) return [];
  const ids = query.deviceIds;
  if (ids !== undefined && ids.length === 0) return [];
  const now = new Date(query.nowMs);
  const windowStart = new Date(query.nowMs - query.windowMs);
  const sensorIds = sensors.map((s) => s.id);
  const components = sensors.map((s) => s.component);
  const deviceFilter = (column: string) =>
    ids === undefined ? sql`true` : sql`${sql.ref(column)} = ANY(${ids}::integer[])`;
  const run = (tx: Kysely<Database>) =>
    sql<{
      device_id: number;
      sensor_id: number;
      after_reset: boolean;
      reset_at: Date | null;
      time_s: number;
      value: number;
    }>`
    WITH m (sensor_id, component) AS (
      SELECT * FROM unnest(${sensorIds}::smallint[], ${components}::text[])
    ), r AS (
      SELECT m.device_id, c AS component, max(m.ended_at) AS reset_at
      FROM maintenance_records m CROSS JOIN LATERAL unnest(m.components) AS c
      WHERE m.ended_at <= ${now} AND ${deviceFilter("m.device_id")}
      GROUP BY 1, 2
    )
    SELECT a.device_id, a.sensor_id, a.bucket >= COALESCE(r.reset_at, '-infinity') AS after_reset,
           max(r.reset_at) AS reset_at,
           (sum(date_part('epoch', a.bucket) * a.count) / sum(a.count) + 1800)::float8 AS time_s,
           (sum(a.sum) / sum(a.count))::float8 AS value
    FROM readings_1h a
    JOIN m ON m.sensor_id = a.sensor_id
    LEFT JOIN r ON r.device_id = a.device_id AND r.component = m.component
    WHERE a.sensor_id = ANY(${sensorIds}::smallint[])
      AND a.bucket >= ${windowStart} AND a.bucket < ${now}
      AND ${deviceFilter("a.device_id")}
    GROUP BY a.device_id, a.sensor_id, floor(date_part('epoch', a.bucket) / 86400), 3
    ORDER BY 1, 2, 5`.execute(tx);
  // A thousand robots' quarter is about a million hourly rows to group by day: in memory, not
  // in temp files (the default 4 MB work_mem spilled a 15 MB sort to disk), and without JIT.
  const { rows } = db.isTransaction
    ? await run(db)
    : await db.transaction().execute(async (tx) => {
        await sql`SELECT set_config('work_mem', '128MB', true), set_config('jit', 'off', true)`.execute(tx);
        return run(tx);
      });
  const bySensor = new Map(sensors.map((s) => [s.id, s]));
  const out = new Map<string, ConditionSeries>();
  for (const row of rows) {
    const sensor = bySensor.get(Number(row.sensor_id))!;
    const deviceId = Number(row.device_id);
    const key = `${deviceId}/${sensor.component}`;
    let series = out.get(key);
    if (!series) {
      series = {
        deviceId,
        component: sensor.component,
        sensor: sensor.name,
        kind: sensor.kind,
        resetMs: row.reset_at ? new Date(row.reset_at).getTime() : undefined,
        points: [],
      };
      out.set(key, series);
    }
    if (row.after_reset) series.points.push({ timeMs: Number(row.time_s) * 1000, value: Number(row.value) });
  }
  return [...out.values()];
}

interface ConditionSensor {
  id: number;
  name: string;
  component: string;
  kind: ComponentKind;
}

/** Every sensor in the dictionary that is a condition sensor of some component. */
async function conditionSensors(db: Kysely<Database>): Promise<ConditionSensor[]> {
  const rows = await db.selectFrom("sensors").select(["id", "name"]).execute();
  const out: ConditionSensor[] = [];
  for (const row of rows) {
    const c = componentOfSensor(row.name);
    if (c) out.push({ id: row.id, name: row.name, component: c.component, kind: c.kind });
  }
  return out;
}

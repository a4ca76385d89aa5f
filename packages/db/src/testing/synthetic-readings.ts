import { type Kysely, sql } from "kysely";
import type { Database } from "../schema.ts";

/** One reading as a test seeds it, with the names it is filed under. */
export interface SyntheticReading {
  deviceCode: string;
  deviceNumber: number;
  sensor: string;
  timeMs: number;
  value: number;
  deleted: boolean;
}

/** A small deterministic PRNG (mulberry32), so seeded data is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Inserts readings (creating their devices and sensors) the way the writer
 * does, with an unnest INSERT. Returns nothing: tests keep their own copy
 * of the rows to compute expected figures from.
 */
export async function insertSynthetic(db: Kysely<Database>, readings: SyntheticReading[]): Promise<void> {
  const ids = await seriesIds(db, readings);
  for (let i = 0; i < readings.length; i += 20_000) {
    const part = readings.slice(i, i + 20_000);
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, deleted_at)
      SELECT to_timestamp(t / 1000.0), v, 1, now(), d, s, CASE WHEN x THEN now() END
      FROM unnest(${part.map((r) => r.timeMs)}::float8[], ${part.map((r) => r.value)}::float8[],
                  ${part.map((r) => ids.devices.get(`${r.deviceCode}-${r.deviceNumber}`)!)}::int4[],
                  ${part.map((r) => ids.sensors.get(r.sensor)!)}::int2[], ${part.map((r) => r.deleted)}::bool[])
        AS u(t, v, d, s, x)
      ON CONFLICT DO NOTHING`.execute(db);
  }
}

/** Device and sensor ids for the readings' names, created when missing. */
export async function seriesIds(
  db: Kysely<Database>,
  readings: Array<Pick<SyntheticReading, "deviceCode" | "deviceNumber" | "sensor">>,
): Promise<{ devices: Map<string, number>; sensors: Map<string, number> }> {
  const devices = new Map<string, number>();
  const sensors = new Map<string, number>();
  for (const r of readings) {
    const key = `${r.deviceCode}-${r.deviceNumber}`;
    if (!devices.has(key)) {
      await sql`INSERT INTO devices (code, number) VALUES (${r.deviceCode}, ${r.deviceNumber}) ON CONFLICT DO NOTHING`.execute(
        db,
      );
      const row = await db
        .selectFrom("devices")
        .select("id")
        .where("code", "=", r.deviceCode)
        .where("number", "=", r.deviceNumber)
        .executeTakeFirstOrThrow();
      devices.set(key, row.id);
    }
    if (!sensors.has(r.sensor)) {
      await sql`INSERT INTO sensors (name) VALUES (${r.sensor}) ON CONFLICT DO NOTHING`.execute(db);
      const row = await db.selectFrom("sensors").select("id").where("name", "=", r.sensor).executeTakeFirstOrThrow();
      sensors.set(r.sensor, row.id);
    }
  }
  return { devices, sensors };
}

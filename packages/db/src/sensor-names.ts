import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** How many new sensor names one device may add to the dictionary, and over what time. */
export interface SensorQuota {
  deviceId: number;
  /** New names per window. */
  maxNew: number;
  windowMs: number;
}

export type SensorRegistration =
  | {
      ok: true;
      /** The id of every name asked for. */
      ids: Map<string, number>;
      /** The names this call added. */
      added: string[];
    }
  | {
      ok: false;
      /** "quota": the device's quota of new names is spent; "full": the dictionary has no ids left. */
      kind: "quota" | "full";
      reason: string;
    };

/** Sequence exhausted / value out of range: no id left for a new name. */
const NO_ID_LEFT = new Set(["2200H", "22003"]);

/** The ids of those names that are in the dictionary. */
export async function lookupSensors(db: Kysely<Database>, names: readonly string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (names.length === 0) return ids;
  const rows = await db
    .selectFrom("sensors")
    .select(["id", "name"])
    .where("name", "in", [...new Set(names)])
    .execute();
  for (const r of rows) ids.set(r.name, Number(r.id));
  return ids;
}

/**
 * The id of every name, adding the unknown ones to the dictionary. Names are
 * looked up first: an `INSERT … ON CONFLICT` spends an identity value even
 * when the name exists. With a quota, the device may add at most `maxNew`
 * names per `windowMs` (counted in the database, so across every receiver;
 * one device's registrations are serialised by an advisory lock), and a
 * call that would go over adds nothing. Names must already match the
 * dictionary's rule (SENSOR_NAME_PATTERN): the caller validates them.
 * Throws only for database errors (the caller retries those).
 */
export async function registerSensors(
  db: Kysely<Database>,
  names: readonly string[],
  quota?: SensorQuota,
): Promise<SensorRegistration> {
  const wanted = [...new Set(names)];
  let ids = await lookupSensors(db, wanted);
  if (ids.size === wanted.length) return { ok: true, ids, added: [] };
  // Inside the caller's transaction when given one (a correction), else in its own.
  const inTransaction = <T>(fn: (tx: Kysely<Database>) => Promise<T>) =>
    db.isTransaction ? fn(db) : db.transaction().execute(fn);
  try {
    return await inTransaction(async (tx) => {
      if (quota) {
        // "VIGS": one device's registrations one at a time, so concurrent batches cannot both pass the quota.
        await sql`SELECT pg_advisory_xact_lock(${0x56494753}, ${quota.deviceId})`.execute(tx);
      }
      ids = await lookupSensors(tx, wanted);
      const unknown = wanted.filter((n) => !ids.has(n));
      if (unknown.length === 0) return { ok: true, ids, added: [] };
      if (quota) {
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM sensors
          WHERE registered_by = ${quota.deviceId}
            AND registered_at > now() - make_interval(secs => ${quota.windowMs / 1000})`.execute(tx);
        const used = Number(rows[0]?.n ?? 0);
        if (used + unknown.length > quota.maxNew) {
          return {
            ok: false,
            kind: "quota",
            reason:
              `the batch names ${unknown.length} sensor(s) Vigil does not know (${preview(unknown)}); this device ` +
              `added ${used} of at most ${quota.maxNew} new sensor names in the last ${quota.windowMs / 3_600_000} h`,
          };
        }
      }
      await sql`
        INSERT INTO sensors (name, registered_by)
        SELECT n, ${quota?.deviceId ?? null}::int FROM unnest(${unknown}::text[]) AS n
        ON CONFLICT (name) DO NOTHING`.execute(tx);
      ids = await lookupSensors(tx, wanted);
      return { ok: true, ids, added: unknown };
    });
  } catch (err) {
    if (NO_ID_LEFT.has((err as { code?: string }).code ?? "")) {
      return { ok: false, kind: "full", reason: "the sensor dictionary has no ids left for new names" };
    }
    throw err;
  }
}

function preview(names: string[]): string {
  const shown = names.slice(0, 5).join(", ");
  return names.length > 5 ? `${shown}, … ${names.length - 5} more` : shown;
}

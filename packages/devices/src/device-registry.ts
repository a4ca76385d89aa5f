import type { Database, Kysely } from "@vigil/db";
import { apiKeyMatches, apiKeyPrefix, generateApiKey } from "./api-key.ts";
import { deviceNameProblem } from "./device-name.ts";

/** A device as the rest of Vigil addresses it. */
export interface Device {
  id: number;
  code: string;
  number: number;
}

export class DeviceError extends Error {
  override name = "DeviceError";
  readonly kind: "invalid" | "exists";
  constructor(kind: "invalid" | "exists", message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Registers a device and issues its first API key. The key is returned
 * here once and only its hash is stored.
 */
export async function createDevice(
  db: Kysely<Database>,
  input: { code: string; number: number },
): Promise<{ device: Device; apiKey: string }> {
  const problem = deviceNameProblem(input.code, input.number);
  if (problem) throw new DeviceError("invalid", problem);
  const issued = generateApiKey();
  return db.transaction().execute(async (tx) => {
    const device = await tx
      .insertInto("devices")
      .values({ code: input.code, number: input.number })
      .onConflict((oc) => oc.columns(["code", "number"]).doNothing())
      .returning(["id", "code", "number"])
      .executeTakeFirst();
    if (!device) throw new DeviceError("exists", `device ${input.code}-${input.number} already exists`);
    await tx
      .insertInto("device_keys")
      .values({ device_id: device.id, prefix: issued.prefix, hash: issued.hash })
      .execute();
    return { device, apiKey: issued.key };
  });
}

/**
 * Issues a new API key for an existing device and revokes its other keys
 * (a rotation without grace period). Returns undefined for an unknown device.
 */
export async function replaceDeviceKey(
  db: Kysely<Database>,
  input: { code: string; number: number },
): Promise<{ device: Device; apiKey: string } | undefined> {
  const issued = generateApiKey();
  return db.transaction().execute(async (tx) => {
    const device = await tx
      .selectFrom("devices")
      .select(["id", "code", "number"])
      .where("code", "=", input.code)
      .where("number", "=", input.number)
      .executeTakeFirst();
    if (!device) return undefined;
    await tx
      .updateTable("device_keys")
      .set({ revoked_at: new Date() })
      .where("device_id", "=", device.id)
      .where("revoked_at", "is", null)
      .execute();
    await tx
      .insertInto("device_keys")
      .values({ device_id: device.id, prefix: issued.prefix, hash: issued.hash })
      .execute();
    return { device, apiKey: issued.key };
  });
}

/**
 * The device an API key belongs to, or undefined when the key is malformed,
 * unknown, revoked, expired or its device is disabled.
 */
export async function authenticateDevice(db: Kysely<Database>, apiKey: string): Promise<Device | undefined> {
  const prefix = apiKeyPrefix(apiKey);
  if (!prefix) return undefined;
  const row = await db
    .selectFrom("device_keys as k")
    .innerJoin("devices as d", "d.id", "k.device_id")
    .select(["d.id", "d.code", "d.number", "k.hash", "k.revoked_at", "k.expires_at", "d.disabled_at"])
    .where("k.prefix", "=", prefix)
    .executeTakeFirst();
  if (!row || !apiKeyMatches(apiKey, row.hash)) return undefined;
  const now = Date.now();
  if (row.revoked_at || row.disabled_at || (row.expires_at && row.expires_at.getTime() <= now)) return undefined;
  return { id: row.id, code: row.code, number: row.number };
}

/** The highest batch seq of a device written to readings (0 when none). */
export async function lastWrittenSeq(db: Kysely<Database>, deviceId: number): Promise<number> {
  const row = await db.selectFrom("devices").select("last_seq").where("id", "=", deviceId).executeTakeFirst();
  return Number(row?.last_seq ?? 0);
}

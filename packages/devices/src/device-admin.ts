import type { DeviceEvent } from "@vigil/bus";
import { type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import { generateApiKey } from "./api-key.ts";
import { DeviceError } from "./device-errors.ts";
import { deviceLabel, deviceNameProblem } from "./device-name.ts";

/** Who is acting, for the audit log, and where device events go. */
export interface AdminContext {
  db: Kysely<Database>;
  /** "user:<name>", "cli:<os user>". */
  actor: string;
  /** Fans the change out to receivers, after the transaction commits. */
  publish?: (event: DeviceEvent) => Promise<void>;
  traceId?: string;
}

export interface DeviceRef {
  code: string;
  number: number;
}

/** Where a device is in its working life. */
export type DeviceStatus = "active" | "in_maintenance" | "retired";
export const DEVICE_STATUSES: readonly DeviceStatus[] = ["active", "in_maintenance", "retired"];

/** The descriptive fields of a device, each settable by updateDevice. */
export interface DeviceFields {
  kind?: string;
  model?: string;
  site?: string;
  labels?: Record<string, string>;
  manufacturer?: string;
  serialNumber?: string;
  firmware?: string;
  status?: DeviceStatus;
  /** null: the receivers' default. */
  rateLimit?: { perSecond: number; burst: number } | null;
}

export interface NewDevice extends DeviceRef, DeviceFields {}

export const DEFAULT_KEY_GRACE_MS = 24 * 3_600_000;
const MAX_LABELS = 64;

/**
 * Registers a device and issues its first API key, returned here once;
 * only its hash is stored.
 */
export async function createDevice(
  ctx: AdminContext,
  input: NewDevice,
): Promise<{ id: number; apiKey: string; prefix: string }> {
  const problem = deviceNameProblem(input.code, input.number) ?? metadataProblem(input);
  if (problem) throw new DeviceError("invalid", problem);
  const issued = generateApiKey();
  return ctx.db.transaction().execute(async (tx) => {
    const device = await tx
      .insertInto("devices")
      .values({
        code: input.code,
        number: input.number,
        kind: input.kind ?? "",
        model: input.model ?? "",
        site: input.site ?? "",
        labels: JSON.stringify(input.labels ?? {}),
        rate_limit_per_s: input.rateLimit?.perSecond ?? null,
        rate_burst: input.rateLimit?.burst ?? null,
        manufacturer: input.manufacturer ?? "",
        serial_number: input.serialNumber ?? "",
        firmware: input.firmware ?? "",
        status: input.status ?? "active",
      })
      .onConflict((oc) => oc.columns(["code", "number"]).doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!device) throw new DeviceError("exists", `device ${deviceLabel(input)} already exists`);
    await tx
      .insertInto("device_keys")
      .values({ device_id: device.id, prefix: issued.prefix, hash: issued.hash })
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device.create",
      target: `device:${deviceLabel(input)}`,
      details: {
        kind: input.kind,
        model: input.model,
        site: input.site,
        labels: input.labels,
        rateLimit: input.rateLimit,
        manufacturer: input.manufacturer,
        serialNumber: input.serialNumber,
        firmware: input.firmware,
        status: input.status,
        keyPrefix: issued.prefix,
      },
      traceId: ctx.traceId,
    });
    return { id: device.id, apiKey: issued.key, prefix: issued.prefix };
  });
}

/**
 * Issues a new key. The device's current keys keep working for `graceMs`
 * (0 ends them now), so a device can switch without a gap.
 */
export async function rotateDeviceKey(
  ctx: AdminContext,
  ref: DeviceRef,
  graceMs = DEFAULT_KEY_GRACE_MS,
): Promise<{ id: number; apiKey: string; prefix: string }> {
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new DeviceError("invalid", "grace period must not be negative");
  const issued = generateApiKey();
  const result = await ctx.db.transaction().execute(async (tx) => {
    const id = await lockDevice(tx, ref);
    const until = new Date(Date.now() + graceMs);
    // Shorten, never extend, an expiry already set by an earlier rotation.
    await tx
      .updateTable("device_keys")
      .set({ expires_at: sql<Date>`LEAST(COALESCE(expires_at, ${until}), ${until})` })
      .where("device_id", "=", id)
      .where("revoked_at", "is", null)
      .execute();
    await tx.insertInto("device_keys").values({ device_id: id, prefix: issued.prefix, hash: issued.hash }).execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device_key.rotate",
      target: `device:${deviceLabel(ref)}`,
      details: { newKeyPrefix: issued.prefix, graceMs },
      traceId: ctx.traceId,
    });
    return { id, apiKey: issued.key, prefix: issued.prefix };
  });
  // Receivers trust cached keys only until their expiry; with no grace, drop them now.
  if (graceMs === 0) await ctx.publish?.({ deviceId: result.id, kind: "changed" });
  return result;
}

/** Revokes one key at once; streams using it are closed within a second. */
export async function revokeDeviceKey(ctx: AdminContext, ref: DeviceRef, prefix: string): Promise<void> {
  const id = await ctx.db.transaction().execute(async (tx) => {
    const id = await lockDevice(tx, ref);
    const revoked = await tx
      .updateTable("device_keys")
      .set({ revoked_at: sql<Date>`now()` })
      .where("device_id", "=", id)
      .where("prefix", "=", prefix)
      .where("revoked_at", "is", null)
      .returning("id")
      .executeTakeFirst();
    if (!revoked) throw new DeviceError("not_found", `device ${deviceLabel(ref)} has no active key ${prefix}`);
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device_key.revoke",
      target: `device:${deviceLabel(ref)}`,
      details: { keyPrefix: prefix },
      traceId: ctx.traceId,
    });
    return id;
  });
  await ctx.publish?.({ deviceId: id, kind: "key_revoked", keyPrefix: prefix });
}

/** Disables a device: every key is refused and its streams are closed. */
export async function disableDevice(ctx: AdminContext, ref: DeviceRef): Promise<void> {
  const id = await ctx.db.transaction().execute(async (tx) => {
    const id = await lockDevice(tx, ref);
    await tx
      .updateTable("devices")
      .set({ disabled_at: sql<Date>`COALESCE(disabled_at, now())` })
      .where("id", "=", id)
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device.disable",
      target: `device:${deviceLabel(ref)}`,
      traceId: ctx.traceId,
    });
    return id;
  });
  await ctx.publish?.({ deviceId: id, kind: "disabled" });
}

/**
 * Sets the given fields of a device (undefined fields are left alone);
 * labels and the rate limit are replaced whole. A changed rate limit
 * reaches the receivers at once. Refused for a deleted device.
 */
export async function updateDevice(ctx: AdminContext, ref: DeviceRef, changes: DeviceFields): Promise<void> {
  const problem = metadataProblem(changes);
  if (problem) throw new DeviceError("invalid", problem);
  const set = Object.fromEntries(
    Object.entries({
      kind: changes.kind,
      model: changes.model,
      site: changes.site,
      labels: changes.labels === undefined ? undefined : JSON.stringify(changes.labels),
      manufacturer: changes.manufacturer,
      serial_number: changes.serialNumber,
      firmware: changes.firmware,
      status: changes.status,
      ...(changes.rateLimit === undefined
        ? {}
        : { rate_limit_per_s: changes.rateLimit?.perSecond ?? null, rate_burst: changes.rateLimit?.burst ?? null }),
    }).filter(([, v]) => v !== undefined),
  );
  if (Object.keys(set).length === 0) throw new DeviceError("invalid", "no change given");
  const id = await ctx.db.transaction().execute(async (tx) => {
    const { id, deleted } = await lockLiveDevice(tx, ref);
    if (deleted) throw new DeviceError("failed_precondition", `device ${deviceLabel(ref)} is deleted`);
    await tx.updateTable("devices").set(set).where("id", "=", id).execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device.update",
      target: `device:${deviceLabel(ref)}`,
      details: { ...changes },
      traceId: ctx.traceId,
    });
    return id;
  });
  if (changes.rateLimit !== undefined) await ctx.publish?.({ deviceId: id, kind: "changed" });
}

/** Lets a disabled device connect again with its active keys; refused for a deleted device. */
export async function enableDevice(ctx: AdminContext, ref: DeviceRef): Promise<void> {
  const id = await ctx.db.transaction().execute(async (tx) => {
    const { id, deleted } = await lockLiveDevice(tx, ref);
    if (deleted) throw new DeviceError("failed_precondition", `device ${deviceLabel(ref)} is deleted`);
    await tx.updateTable("devices").set({ disabled_at: null }).where("id", "=", id).execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device.enable",
      target: `device:${deviceLabel(ref)}`,
      traceId: ctx.traceId,
    });
    return id;
  });
  // Receivers that cached the refusal look the device up again.
  await ctx.publish?.({ deviceId: id, kind: "changed" });
}

/**
 * Soft-deletes a device: disabled (every key refused, streams closed),
 * hidden from listings, its data kept. Deleting a deleted device is a no-op.
 */
export async function deleteDevice(ctx: AdminContext, ref: DeviceRef): Promise<void> {
  const id = await ctx.db.transaction().execute(async (tx) => {
    const { id, deleted } = await lockLiveDevice(tx, ref);
    if (deleted) return id;
    await tx
      .updateTable("devices")
      .set({ deleted_at: sql<Date>`now()`, disabled_at: sql<Date>`COALESCE(disabled_at, now())` })
      .where("id", "=", id)
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device.delete",
      target: `device:${deviceLabel(ref)}`,
      traceId: ctx.traceId,
    });
    return id;
  });
  await ctx.publish?.({ deviceId: id, kind: "disabled" });
}

/**
 * Issues a new key and revokes every other key of the device at once (the
 * quick start's demo devices get fresh keys on every start).
 */
export async function replaceDeviceKey(ctx: AdminContext, ref: DeviceRef): Promise<{ id: number; apiKey: string }> {
  const issued = generateApiKey();
  const id = await ctx.db.transaction().execute(async (tx) => {
    const id = await lockDevice(tx, ref);
    await tx
      .updateTable("device_keys")
      .set({ revoked_at: sql<Date>`now()` })
      .where("device_id", "=", id)
      .where("revoked_at", "is", null)
      .execute();
    await tx.insertInto("device_keys").values({ device_id: id, prefix: issued.prefix, hash: issued.hash }).execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device_key.replace",
      target: `device:${deviceLabel(ref)}`,
      details: { newKeyPrefix: issued.prefix },
      traceId: ctx.traceId,
    });
    return id;
  });
  await ctx.publish?.({ deviceId: id, kind: "changed" });
  return { id, apiKey: issued.key };
}

/** The device's id, with its row locked for the transaction; NotFound otherwise. */
/** Locks a device row for the rest of the transaction; NotFound when it does not exist. */
export async function lockDevice(tx: Kysely<Database>, ref: DeviceRef): Promise<number> {
  const row = await tx
    .selectFrom("devices")
    .select("id")
    .where("code", "=", ref.code)
    .where("number", "=", ref.number)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new DeviceError("not_found", `device ${deviceLabel(ref)} does not exist`);
  return row.id;
}

/** Like lockDevice, and whether the device is soft-deleted. */
async function lockLiveDevice(tx: Kysely<Database>, ref: DeviceRef): Promise<{ id: number; deleted: boolean }> {
  const row = await tx
    .selectFrom("devices")
    .select(["id", "deleted_at"])
    .where("code", "=", ref.code)
    .where("number", "=", ref.number)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new DeviceError("not_found", `device ${deviceLabel(ref)} does not exist`);
  return { id: row.id, deleted: row.deleted_at !== null };
}

function metadataProblem(input: DeviceFields): string | undefined {
  const text = {
    kind: input.kind,
    model: input.model,
    site: input.site,
    manufacturer: input.manufacturer,
    serial_number: input.serialNumber,
    firmware: input.firmware,
  };
  for (const [field, value] of Object.entries(text)) {
    if (value === undefined) continue;
    if (value.length > 200) return `${field} must be at most 200 characters`;
    // Control characters have no place in a name and would garble logs and terminals.
    if (/\p{Cc}/u.test(value)) return `${field} must not contain control characters`;
  }
  if (input.status !== undefined && !DEVICE_STATUSES.includes(input.status)) {
    return `status must be one of ${DEVICE_STATUSES.join(", ")}`;
  }
  const labels = labelsProblem(input.labels ?? {});
  if (labels) return labels;
  const rate = input.rateLimit;
  if (
    rate &&
    (!Number.isInteger(rate.perSecond) || rate.perSecond < 1 || !Number.isInteger(rate.burst) || rate.burst < 1)
  ) {
    return "rate limit needs positive readings per second and burst";
  }
  return undefined;
}

/**
 * What is wrong with a set of labels, or undefined: at most 64, keys of lower-case letters, digits,
 * '_', '.', '-' (up to 63), values up to 200 characters. Also bounds label filters, which can only
 * match labels a device may carry.
 */
export function labelsProblem(labels: Record<string, string>): string | undefined {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) return `at most ${MAX_LABELS} labels`;
  for (const [k, v] of entries) {
    if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/.test(k))
      return `label key ${JSON.stringify(k)} must be lower-case letters, digits, '_', '.', '-'`;
    if (v.length > 200) return `label ${k} must be at most 200 characters`;
  }
  return undefined;
}

import { type Database, type Kysely, sql } from "@vigil/db";
import type { DeviceStatus } from "./device-admin.ts";
import { DeviceError } from "./device-errors.ts";
import { deviceLabel } from "./device-name.ts";
import { PRESENCE_TIMEOUT_MS } from "./presence.ts";

/** Everything an operator sees about a device; never a key. */
export interface DeviceView {
  id: number;
  code: string;
  number: number;
  kind: string;
  model: string;
  site: string;
  labels: Record<string, string>;
  createdAt: Date;
  disabledAt: Date | null;
  lastSeenAt: Date | null;
  online: boolean;
  lastStoredSeq: number;
  manufacturer: string;
  serialNumber: string;
  firmware: string;
  status: DeviceStatus;
  deletedAt: Date | null;
  rateLimit?: { perSecond: number; burst: number };
  keys: Array<{ prefix: string; createdAt: Date; expiresAt: Date | null; revokedAt: Date | null }>;
  certificates: Array<{
    fingerprint: string;
    subject: string;
    issuer: string;
    serial: string;
    notBefore: Date;
    notAfter: Date;
    createdAt: Date;
    expiresAt: Date | null;
    revokedAt: Date | null;
  }>;
}

export interface DeviceListOptions {
  code?: string;
  online?: boolean;
  site?: string;
  kind?: string;
  /** Devices carrying every one of these labels with these values. */
  labels?: Record<string, string>;
  status?: DeviceStatus;
  /** Include soft-deleted devices. */
  showDeleted?: boolean;
  limit: number;
  /** Continue after this device (keyset on code, number). */
  after?: { code: string; number: number };
}

function devicesWithPresence(db: Kysely<Database>) {
  return db
    .selectFrom("devices")
    .selectAll()
    .select(
      sql<boolean>`connected AND last_seen_at > now() - make_interval(secs => ${PRESENCE_TIMEOUT_MS / 1000})`.as(
        "online",
      ),
    );
}

/** One device with its keys; NotFound when it does not exist. */
export async function getDevice(db: Kysely<Database>, ref: { code: string; number: number }): Promise<DeviceView> {
  const row = await devicesWithPresence(db)
    .where("code", "=", ref.code)
    .where("number", "=", ref.number)
    .executeTakeFirst();
  if (!row) throw new DeviceError("not_found", `device ${deviceLabel(ref)} does not exist`);
  const [view] = await withKeys(db, [row]);
  return view!;
}

/** A page of devices ordered by code and number. */
export async function listDevices(db: Kysely<Database>, options: DeviceListOptions): Promise<DeviceView[]> {
  let q = devicesWithPresence(db);
  if (options.code !== undefined) q = q.where("code", "=", options.code);
  if (options.site !== undefined) q = q.where("site", "=", options.site);
  if (options.kind !== undefined) q = q.where("kind", "=", options.kind);
  if (options.status !== undefined) q = q.where("status", "=", options.status);
  if (options.labels !== undefined && Object.keys(options.labels).length > 0) {
    q = q.where(sql<boolean>`labels @> ${JSON.stringify(options.labels)}::jsonb`);
  }
  if (!options.showDeleted) q = q.where("deleted_at", "is", null);
  if (options.online !== undefined) {
    const online = sql<boolean>`connected AND last_seen_at > now() - make_interval(secs => ${PRESENCE_TIMEOUT_MS / 1000})`;
    q = q.where(options.online ? online : sql<boolean>`NOT COALESCE(${online}, false)`);
  }
  const after = options.after;
  if (after) q = q.where((eb) => eb(eb.refTuple("code", "number"), ">", eb.tuple(after.code, after.number)));
  const rows = await q.orderBy("code").orderBy("number").limit(options.limit).execute();
  return withKeys(db, rows);
}

type DeviceRow = Awaited<ReturnType<ReturnType<typeof devicesWithPresence>["execute"]>>[number];

async function withKeys(db: Kysely<Database>, rows: DeviceRow[]): Promise<DeviceView[]> {
  if (rows.length === 0) return [];
  const keys = await db
    .selectFrom("device_keys")
    .select(["device_id", "prefix", "created_at", "expires_at", "revoked_at"])
    .where(
      "device_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  const certificates = await db
    .selectFrom("device_certificates")
    .select([
      "device_id",
      "fingerprint",
      "subject",
      "issuer",
      "serial",
      "not_before",
      "not_after",
      "created_at",
      "expires_at",
      "revoked_at",
    ])
    .where(
      "device_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  return rows.map((r) => ({
    id: r.id,
    code: r.code,
    number: r.number,
    kind: r.kind,
    model: r.model,
    site: r.site,
    labels: r.labels,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
    lastSeenAt: r.last_seen_at,
    online: r.online === true,
    lastStoredSeq: Number(r.last_seq),
    manufacturer: r.manufacturer,
    serialNumber: r.serial_number,
    firmware: r.firmware,
    status: r.status as DeviceStatus,
    deletedAt: r.deleted_at,
    ...(r.rate_limit_per_s
      ? { rateLimit: { perSecond: r.rate_limit_per_s, burst: r.rate_burst ?? r.rate_limit_per_s } }
      : {}),
    keys: keys
      .filter((k) => k.device_id === r.id)
      .map((k) => ({ prefix: k.prefix, createdAt: k.created_at, expiresAt: k.expires_at, revokedAt: k.revoked_at })),
    certificates: certificates
      .filter((c) => c.device_id === r.id)
      .map((c) => ({
        fingerprint: c.fingerprint,
        subject: c.subject,
        issuer: c.issuer,
        serial: c.serial,
        notBefore: c.not_before,
        notAfter: c.not_after,
        createdAt: c.created_at,
        expiresAt: c.expires_at,
        revokedAt: c.revoked_at,
      })),
  }));
}

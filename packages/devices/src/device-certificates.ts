import { X509Certificate } from "node:crypto";
import { type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import { type AdminContext, DEFAULT_KEY_GRACE_MS, type DeviceRef, lockDevice } from "./device-admin.ts";
import type { AuthenticatedDevice } from "./device-auth.ts";
import { DeviceError } from "./device-errors.ts";
import { deviceLabel } from "./device-name.ts";

/** Largest certificate accepted for registration: a device certificate is well under 4 KiB. */
export const MAX_CERTIFICATE_PEM_BYTES = 16 * 1024;

/** What Vigil keeps of a device certificate (never its key, which it never sees). */
export interface DeviceCertificateInfo {
  /** SHA-256 of the DER, lower-case hex: the identity the receiver looks up. */
  fingerprint: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Parses one PEM certificate for registration: a single end-entity
 * certificate (not a CA), valid now or later, usable for TLS client
 * authentication when it restricts its extended key usage.
 */
export function parseDeviceCertificate(pem: string): DeviceCertificateInfo {
  if (Buffer.byteLength(pem, "utf8") > MAX_CERTIFICATE_PEM_BYTES) {
    throw new DeviceError("invalid", `certificate must be at most ${MAX_CERTIFICATE_PEM_BYTES} bytes of PEM`);
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
  if (blocks !== 1) throw new DeviceError("invalid", "give exactly one PEM certificate (-----BEGIN CERTIFICATE-----)");
  if (/PRIVATE KEY-----/.test(pem)) throw new DeviceError("invalid", "never send a private key: only the certificate");
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch (err) {
    throw new DeviceError("invalid", `not a PEM certificate: ${(err as Error).message}`);
  }
  if (x.ca) throw new DeviceError("invalid", "a CA certificate cannot identify a device");
  const notAfter = new Date(x.validTo);
  if (notAfter.getTime() <= Date.now()) throw new DeviceError("invalid", `certificate expired on ${x.validTo}`);
  if (x.keyUsage && x.keyUsage.length > 0 && !x.keyUsage.includes("1.3.6.1.5.5.7.3.2")) {
    throw new DeviceError("invalid", "certificate is not for TLS client authentication (extended key usage)");
  }
  return {
    fingerprint: x.fingerprint256.replaceAll(":", "").toLowerCase(),
    subject: x.subject.replaceAll("\n", ", "),
    issuer: x.issuer.replaceAll("\n", ", "),
    serial: x.serialNumber.toLowerCase(),
    notBefore: new Date(x.validFrom),
    notAfter,
  };
}

/** Registers a client certificate to a device (audited); Exists when it is registered already. */
export async function registerDeviceCertificate(
  ctx: AdminContext,
  ref: DeviceRef,
  pem: string,
): Promise<DeviceCertificateInfo> {
  return addCertificate(ctx, ref, pem, "device_certificate.register", undefined);
}

/**
 * Registers a new certificate; the device's current certificates keep
 * working for `graceMs` (0 ends them now), so a device switches without a gap.
 */
export async function rotateDeviceCertificate(
  ctx: AdminContext,
  ref: DeviceRef,
  pem: string,
  graceMs = DEFAULT_KEY_GRACE_MS,
): Promise<DeviceCertificateInfo> {
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new DeviceError("invalid", "grace period must not be negative");
  const info = await addCertificate(ctx, ref, pem, "device_certificate.rotate", graceMs);
  // With no grace, the old certificates' open streams close now.
  if (graceMs === 0) await ctx.publish?.({ deviceId: info.deviceId, kind: "changed" });
  return info;
}

async function addCertificate(
  ctx: AdminContext,
  ref: DeviceRef,
  pem: string,
  action: string,
  graceMs: number | undefined,
): Promise<DeviceCertificateInfo & { deviceId: number }> {
  const info = parseDeviceCertificate(pem);
  return ctx.db.transaction().execute(async (tx) => {
    const id = await lockDevice(tx, ref);
    const taken = await tx
      .selectFrom("device_certificates as c")
      .innerJoin("devices as d", "d.id", "c.device_id")
      .select(["d.code", "d.number"])
      .where("c.fingerprint", "=", info.fingerprint)
      .executeTakeFirst();
    if (taken) {
      throw new DeviceError("exists", `certificate ${info.fingerprint} is registered to ${deviceLabel(taken)} already`);
    }
    if (graceMs !== undefined) {
      const until = new Date(Date.now() + graceMs);
      // Shorten, never extend, an expiry set by an earlier rotation.
      await tx
        .updateTable("device_certificates")
        .set({ expires_at: sql<Date>`LEAST(COALESCE(expires_at, ${until}), ${until})` })
        .where("device_id", "=", id)
        .where("revoked_at", "is", null)
        .execute();
    }
    await tx
      .insertInto("device_certificates")
      .values({
        device_id: id,
        fingerprint: info.fingerprint,
        subject: info.subject,
        issuer: info.issuer,
        serial: info.serial,
        not_before: info.notBefore,
        not_after: info.notAfter,
      })
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action,
      target: `device:${deviceLabel(ref)}`,
      details: {
        fingerprint: info.fingerprint,
        subject: info.subject,
        issuer: info.issuer,
        notAfter: info.notAfter.toISOString(),
        ...(graceMs !== undefined ? { graceMs } : {}),
      },
      traceId: ctx.traceId,
    });
    return { ...info, deviceId: id };
  });
}

/** Revokes one certificate at once (audited); streams using it are closed within a second. */
export async function revokeDeviceCertificate(ctx: AdminContext, ref: DeviceRef, fingerprint: string): Promise<void> {
  const fp = fingerprint.replaceAll(":", "").toLowerCase();
  const id = await ctx.db.transaction().execute(async (tx) => {
    const id = await lockDevice(tx, ref);
    const revoked = await tx
      .updateTable("device_certificates")
      .set({ revoked_at: sql<Date>`now()` })
      .where("device_id", "=", id)
      .where("fingerprint", "=", fp)
      .where("revoked_at", "is", null)
      .returning("id")
      .executeTakeFirst();
    if (!revoked) throw new DeviceError("not_found", `device ${deviceLabel(ref)} has no active certificate ${fp}`);
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "device_certificate.revoke",
      target: `device:${deviceLabel(ref)}`,
      details: { fingerprint: fp },
      traceId: ctx.traceId,
    });
    return id;
  });
  await ctx.publish?.({ deviceId: id, kind: "certificate_revoked", fingerprint: fp });
}

/**
 * The device a verified client certificate's fingerprint is registered to,
 * or undefined when it is unknown, revoked, rotated out or its device is
 * disabled. (Chain and validity dates were checked by the TLS handshake.)
 */
export async function authenticateDeviceCertificate(
  db: Kysely<Database>,
  fingerprint: string,
): Promise<AuthenticatedDevice | undefined> {
  const row = await db
    .selectFrom("device_certificates as c")
    .innerJoin("devices as d", "d.id", "c.device_id")
    .select(["d.id", "d.code", "d.number", "d.disabled_at", "d.rate_limit_per_s", "d.rate_burst"])
    .select(["c.revoked_at", "c.expires_at", "c.not_after"])
    .where("c.fingerprint", "=", fingerprint)
    .executeTakeFirst();
  if (!row) return undefined;
  const untilMs = Math.min(row.expires_at?.getTime() ?? Number.POSITIVE_INFINITY, row.not_after.getTime());
  if (row.revoked_at || row.disabled_at || untilMs <= Date.now()) return undefined;
  const perSecond = row.rate_limit_per_s;
  return {
    id: row.id,
    code: row.code,
    number: row.number,
    keyPrefix: "",
    certFingerprint: fingerprint,
    validUntilMs: untilMs,
    ...(perSecond ? { rateLimit: { perSecond, burst: row.rate_burst ?? perSecond } } : {}),
  };
}

/** Of the given fingerprints, the ones still usable, with their device's rate-limit override. */
export async function activeCertificates(
  db: Kysely<Database>,
  fingerprints: string[],
): Promise<Map<string, { perSecond: number; burst: number } | undefined>> {
  if (fingerprints.length === 0) return new Map();
  const rows = await db
    .selectFrom("device_certificates as c")
    .innerJoin("devices as d", "d.id", "c.device_id")
    .select(["c.fingerprint", "d.rate_limit_per_s", "d.rate_burst"])
    .where("c.fingerprint", "in", fingerprints)
    .where("c.revoked_at", "is", null)
    .where("d.disabled_at", "is", null)
    .where("c.not_after", ">", new Date())
    .where((eb) => eb.or([eb("c.expires_at", "is", null), eb("c.expires_at", ">", new Date())]))
    .execute();
  return new Map(
    rows.map((r) => [
      r.fingerprint,
      r.rate_limit_per_s ? { perSecond: r.rate_limit_per_s, burst: r.rate_burst ?? r.rate_limit_per_s } : undefined,
    ]),
  );
}

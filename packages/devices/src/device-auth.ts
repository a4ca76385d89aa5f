import type { Database, Kysely } from "@vigil/db";
import { apiKeyMatches, apiKeyPrefix } from "./api-key.ts";

/** A device as a verified API key presents it. */
export interface AuthenticatedDevice {
  id: number;
  code: string;
  number: number;
  /** Prefix of the key that was presented ("" when none): revoking it closes this stream. */
  keyPrefix: string;
  /** SHA-256 fingerprint of the verified client certificate presented, if any: revoking it closes this stream. */
  certFingerprint?: string;
  /** Until when the key may be trusted without asking again (its expiry), in ms; Infinity if none. */
  validUntilMs: number;
  /** Per-device token bucket override, or undefined for the default. */
  rateLimit?: { perSecond: number; burst: number };
}

/**
 * The device an API key belongs to, or undefined when the key is malformed,
 * unknown, revoked, expired or its device is disabled.
 */
export async function authenticateDevice(
  db: Kysely<Database>,
  apiKey: string,
): Promise<AuthenticatedDevice | undefined> {
  const prefix = apiKeyPrefix(apiKey);
  if (!prefix) return undefined;
  const row = await db
    .selectFrom("device_keys as k")
    .innerJoin("devices as d", "d.id", "k.device_id")
    .select([
      "d.id",
      "d.code",
      "d.number",
      "d.disabled_at",
      "d.rate_limit_per_s",
      "d.rate_burst",
      "k.hash",
      "k.revoked_at",
      "k.expires_at",
    ])
    .where("k.prefix", "=", prefix)
    .executeTakeFirst();
  if (!row || !apiKeyMatches(apiKey, row.hash)) return undefined;
  const expiresMs = row.expires_at?.getTime() ?? Number.POSITIVE_INFINITY;
  if (row.revoked_at || row.disabled_at || expiresMs <= Date.now()) return undefined;
  const perSecond = row.rate_limit_per_s;
  return {
    id: row.id,
    code: row.code,
    number: row.number,
    keyPrefix: prefix,
    validUntilMs: expiresMs,
    ...(perSecond ? { rateLimit: { perSecond, burst: row.rate_burst ?? perSecond } } : {}),
  };
}

/** The highest batch seq of a device written to readings (0 when none). */
export async function lastWrittenSeq(db: Kysely<Database>, deviceId: number): Promise<number> {
  const row = await db.selectFrom("devices").select("last_seq").where("id", "=", deviceId).executeTakeFirst();
  return Number(row?.last_seq ?? 0);
}

/**
 * Of the given key prefixes, the ones still usable (not revoked, not
 * expired, device not disabled), with their device's rate-limit override:
 * receivers re-check their open streams with this.
 */
export async function activeKeys(
  db: Kysely<Database>,
  prefixes: string[],
): Promise<Map<string, { perSecond: number; burst: number } | undefined>> {
  if (prefixes.length === 0) return new Map();
  const rows = await db
    .selectFrom("device_keys as k")
    .innerJoin("devices as d", "d.id", "k.device_id")
    .select(["k.prefix", "d.rate_limit_per_s", "d.rate_burst"])
    .where("k.prefix", "in", prefixes)
    .where("k.revoked_at", "is", null)
    .where("d.disabled_at", "is", null)
    .where((eb) => eb.or([eb("k.expires_at", "is", null), eb("k.expires_at", ">", new Date())]))
    .execute();
  return new Map(
    rows.map((r) => [
      r.prefix,
      r.rate_limit_per_s ? { perSecond: r.rate_limit_per_s, burst: r.rate_burst ?? r.rate_limit_per_s } : undefined,
    ]),
  );
}

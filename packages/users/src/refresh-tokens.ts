import { createHash, randomBytes, randomUUID } from "node:crypto";
import { type Database, type Kysely, sql } from "@vigil/db";

/**
 * Opaque refresh tokens: 256 random bits, only their SHA-256 stored. Each
 * sign-in starts a family; a refresh spends its token and issues the next
 * one in the family; presenting a spent token again means it was stolen
 * (or replayed), so the whole family is revoked.
 */
export interface IssuedRefreshToken {
  token: string;
  expiresAt: Date;
}

export type RefreshOutcome =
  | { ok: true; userId: number; family: string; next: IssuedRefreshToken }
  | { ok: false; reason: "unknown" | "expired" | "revoked" | "reused" };

const PREFIX = "vrt_";

function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

export async function issueRefreshToken(
  db: Kysely<Database>,
  userId: number,
  ttlMs: number,
  family: string = randomUUID(),
): Promise<IssuedRefreshToken> {
  const token = `${PREFIX}${randomBytes(32).toString("base64url")}`;
  const expiresAt = new Date(Date.now() + ttlMs);
  await db
    .insertInto("refresh_tokens")
    .values({ user_id: userId, family, token_hash: hashToken(token), expires_at: expiresAt })
    .execute();
  return { token, expiresAt };
}

/**
 * Spends a refresh token and issues its successor in one transaction. The
 * successor must exist by the time the spend commits: a reuse of the same
 * token waits on the row lock, then revokes the family, and finds the
 * successor there to revoke with it (issued afterwards, it would survive).
 */
export async function rotateRefreshToken(db: Kysely<Database>, token: string, ttlMs: number): Promise<RefreshOutcome> {
  if (!token.startsWith(PREFIX)) return { ok: false, reason: "unknown" };
  return db.transaction().execute(async (tx): Promise<RefreshOutcome> => {
    const row = await tx
      .selectFrom("refresh_tokens")
      .select(["id", "user_id", "family", "expires_at", "used_at", "revoked_at"])
      .where("token_hash", "=", hashToken(token))
      .forUpdate()
      .executeTakeFirst();
    if (!row) return { ok: false as const, reason: "unknown" as const };
    if (row.revoked_at) return { ok: false as const, reason: "revoked" as const };
    if (row.used_at) {
      await revokeFamily(tx, row.family);
      return { ok: false as const, reason: "reused" as const };
    }
    if (row.expires_at.getTime() <= Date.now()) return { ok: false as const, reason: "expired" as const };
    await tx.updateTable("refresh_tokens").set({ used_at: sql<Date>`now()` }).where("id", "=", row.id).execute();
    const next = await issueRefreshToken(tx, row.user_id, ttlMs, row.family);
    return { ok: true, userId: row.user_id, family: row.family, next };
  });
}

/** Revokes the family a refresh token belongs to (logout); the user's id, or undefined when the token is unknown. */
export async function revokeRefreshToken(db: Kysely<Database>, token: string): Promise<number | undefined> {
  const row = await db
    .selectFrom("refresh_tokens")
    .select(["family", "user_id"])
    .where("token_hash", "=", hashToken(token))
    .executeTakeFirst();
  if (!row) return undefined;
  await revokeFamily(db, row.family);
  return row.user_id;
}

async function revokeFamily(db: Kysely<Database>, family: string): Promise<void> {
  await db
    .updateTable("refresh_tokens")
    .set({ revoked_at: sql<Date>`now()` })
    .where("family", "=", family)
    .where("revoked_at", "is", null)
    .execute();
}

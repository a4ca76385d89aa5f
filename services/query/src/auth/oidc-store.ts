import { createHash, randomBytes } from "node:crypto";
import { type Database, type Kysely, sql } from "@vigil/db";

/**
 * Single sign-on's short-lived state, in the database so any replica can
 * take the provider's callback and the console's exchange:
 *
 * - pending sign-ins (state → nonce and PKCE verifier), bounded in number,
 *   used once, expiring after the sign-in TTL;
 * - sign-in codes (code → user), used once, expiring after a minute.
 *
 * Only hashes of the state and of the code are stored: a database reader
 * cannot finish someone's sign-in with them.
 */
export interface PendingSignIn {
  nonce: string;
  codeVerifier: string;
}

/** How long the console has to exchange a sign-in code. */
export const SIGNIN_CODE_TTL_MS = 60_000;
const CODE_PREFIX = "vsc_";

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * Records a pending sign-in unless `max` are already pending (expired ones are
 * removed first). False when full.
 */
export async function addPendingSignIn(
  db: Kysely<Database>,
  state: string,
  pending: PendingSignIn,
  options: { ttlMs: number; max: number },
): Promise<boolean> {
  await db.deleteFrom("oidc_pending_signins").where("expires_at", "<=", sql<Date>`now()`).execute();
  // One statement: the count and the insert see the same snapshot; replicas racing at the
  // limit may overshoot it by their number, which the bound tolerates.
  const inserted = await sql<{ id: number }>`
    INSERT INTO oidc_pending_signins (state_hash, nonce, code_verifier, expires_at)
    SELECT ${sha256(state)}, ${pending.nonce}, ${pending.codeVerifier}, now() + make_interval(secs => ${options.ttlMs / 1000})
    WHERE (SELECT count(*) FROM oidc_pending_signins) < ${options.max}
    RETURNING id`.execute(db);
  return inserted.rows.length === 1;
}

/** Takes (deletes) the pending sign-in of `state`; undefined when unknown, used or expired. */
export async function takePendingSignIn(db: Kysely<Database>, state: string): Promise<PendingSignIn | undefined> {
  const row = await db
    .deleteFrom("oidc_pending_signins")
    .where("state_hash", "=", sha256(state))
    .returning(["nonce", "code_verifier", "expires_at"])
    .executeTakeFirst();
  if (!row || row.expires_at.getTime() <= Date.now()) return undefined;
  return { nonce: row.nonce, codeVerifier: row.code_verifier };
}

/** A new single-use sign-in code for `userId`. */
export async function issueSignInCode(db: Kysely<Database>, userId: number): Promise<string> {
  await db.deleteFrom("oidc_signin_codes").where("expires_at", "<=", sql<Date>`now()`).execute();
  const code = `${CODE_PREFIX}${randomBytes(32).toString("base64url")}`;
  await db
    .insertInto("oidc_signin_codes")
    .values({ code_hash: sha256(code), user_id: userId, expires_at: new Date(Date.now() + SIGNIN_CODE_TTL_MS) })
    .execute();
  return code;
}

/** Spends a sign-in code; the user's id, or undefined when unknown, used or expired. */
export async function redeemSignInCode(db: Kysely<Database>, code: string): Promise<number | undefined> {
  if (!code.startsWith(CODE_PREFIX) || code.length > 100) return undefined;
  const row = await db
    .deleteFrom("oidc_signin_codes")
    .where("code_hash", "=", sha256(code))
    .returning(["user_id", "expires_at"])
    .executeTakeFirst();
  if (!row || row.expires_at.getTime() <= Date.now()) return undefined;
  return row.user_id;
}

import { type Kysely, sql } from "kysely";

/**
 * A per-user token version, carried in every access token (claim `tv`) and
 * checked on every call: raising it ends all of the user's access tokens at
 * once (sign-out, role change, disable) instead of when they expire.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users DROP COLUMN IF EXISTS token_version`.execute(db);
}

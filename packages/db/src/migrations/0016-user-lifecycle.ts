import { type Kysely, sql } from "kysely";

/**
 * User lifecycle (issue 13, People): a deleted user is a tombstone, not a
 * missing row. `deleted_at` marks it; the row keeps its username (unique,
 * so the name is never given to someone else and the audit log's
 * "user:<name>" entries keep naming one person) and loses its credentials
 * (the password hash is replaced, refresh tokens removed). Deleted users are
 * also disabled, so every check that refuses disabled users refuses them.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN deleted_at timestamptz`.execute(db);
  await sql`
    ALTER TABLE users ADD CONSTRAINT users_deleted_are_disabled
      CHECK (deleted_at IS NULL OR disabled_at IS NOT NULL)`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE users DROP CONSTRAINT IF EXISTS users_deleted_are_disabled`.execute(db);
  await sql`ALTER TABLE users DROP COLUMN IF EXISTS deleted_at`.execute(db);
}

import { type Kysely, sql } from "kysely";

/** Users with argon2id password hashes, and refresh-token families. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- Stored lower-case: usernames are case-insensitive.
      username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._@-]{3,64}$'),
      password_hash text NOT NULL,
      role          text NOT NULL CHECK (role IN ('admin', 'user')),
      created_at    timestamptz NOT NULL DEFAULT now(),
      disabled_at   timestamptz
    )`.execute(db);
  await sql`
    CREATE TABLE refresh_tokens (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id     integer NOT NULL REFERENCES users (id),
      -- One family per sign-in: reusing a spent token revokes all of it.
      family      uuid NOT NULL,
      token_hash  bytea NOT NULL UNIQUE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL,
      used_at     timestamptz,
      revoked_at  timestamptz
    )`.execute(db);
  await sql`CREATE INDEX refresh_tokens_family ON refresh_tokens (family)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS refresh_tokens`.execute(db);
  await sql`DROP TABLE IF EXISTS users`.execute(db);
}

import { type Kysely, sql } from "kysely";

/**
 * OpenID Connect single sign-on (issue 13):
 *
 * - `user_identities`: which Vigil user an identity provider's account is,
 *   by (issuer, subject): the only pair the OpenID Connect specification says
 *   is stable and unique. Never by username or e-mail, which an IdP user may
 *   be able to choose.
 * - `oidc_pending_signins`: sign-ins sent to the provider and not back yet
 *   (state, nonce, PKCE verifier), looked up by the state's hash, used once
 *   and short-lived; in the database so any replica can take the callback.
 * - `oidc_signin_codes`: the short-lived, single-use code the callback hands
 *   to the console, which exchanges it for Vigil's tokens (SsoService); only
 *   its hash is stored.
 *
 * Identities and codes go with their user (ON DELETE CASCADE).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE user_identities (
      id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      issuer        text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
      subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
      created_at    timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (issuer, subject)
    )`.execute(db);
  await sql`CREATE INDEX user_identities_user ON user_identities (user_id)`.execute(db);
  await sql`
    CREATE TABLE oidc_pending_signins (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      state_hash    bytea NOT NULL UNIQUE,
      nonce         text NOT NULL,
      code_verifier text NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      expires_at    timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX oidc_pending_signins_expiry ON oidc_pending_signins (expires_at)`.execute(db);
  await sql`
    CREATE TABLE oidc_signin_codes (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      code_hash   bytea NOT NULL UNIQUE,
      user_id     integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX oidc_signin_codes_expiry ON oidc_signin_codes (expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS oidc_signin_codes`.execute(db);
  await sql`DROP TABLE IF EXISTS oidc_pending_signins`.execute(db);
  await sql`DROP TABLE IF EXISTS user_identities`.execute(db);
}

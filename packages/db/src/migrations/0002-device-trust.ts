import { type Kysely, sql } from "kysely";

/**
 * Device metadata, presence and rate limits; key rotation with grace
 * periods (device_keys.expires_at); dead-letter replay; and the audit log
 * every key, device and reading change writes to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE devices
      ADD COLUMN kind text NOT NULL DEFAULT '',
      ADD COLUMN model text NOT NULL DEFAULT '',
      ADD COLUMN site text NOT NULL DEFAULT '',
      ADD COLUMN labels jsonb NOT NULL DEFAULT '{}',
      -- Per-device overrides of the receivers' token bucket; NULL: the default.
      ADD COLUMN rate_limit_per_s integer CHECK (rate_limit_per_s > 0),
      ADD COLUMN rate_burst integer CHECK (rate_burst > 0),
      -- Presence, kept by the receivers holding the device's stream: set on
      -- connect, refreshed by their heartbeat, cleared on disconnect.
      ADD COLUMN connected boolean NOT NULL DEFAULT false,
      ADD COLUMN last_seen_at timestamptz`.execute(db);

  await sql`
    ALTER TABLE dead_letters
      ADD COLUMN code text NOT NULL DEFAULT '',
      ADD COLUMN replayed_at timestamptz`.execute(db);
  await sql`CREATE INDEX dead_letters_device ON dead_letters (device_id, created_at DESC)`.execute(db);

  await sql`
    CREATE TABLE IF NOT EXISTS audit_log (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at            timestamptz NOT NULL DEFAULT now(),
      actor         text NOT NULL,
      action        text NOT NULL,
      target        text NOT NULL DEFAULT '',
      details       jsonb NOT NULL DEFAULT '{}',
      rows_affected bigint,
      trace_id      text
    )`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at DESC)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS audit_log`.execute(db);
  await sql`DROP INDEX IF EXISTS dead_letters_device`.execute(db);
  await sql`ALTER TABLE dead_letters DROP COLUMN code, DROP COLUMN replayed_at`.execute(db);
  await sql`
    ALTER TABLE devices
      DROP COLUMN kind, DROP COLUMN model, DROP COLUMN site, DROP COLUMN labels,
      DROP COLUMN rate_limit_per_s, DROP COLUMN rate_burst, DROP COLUMN connected, DROP COLUMN last_seen_at`.execute(
    db,
  );
}

import { type Kysely, sql } from "kysely";

/**
 * Provenance of readings (issue 13): which credential sent a reading and
 * which receiver took it.
 *
 * - `reading_sources` interns each (device, API key prefix, client
 *   certificate fingerprint, receiver instance) once; receivers add rows
 *   when a stream opens (reading-sources.ts) and send the id with every
 *   batch.
 * - `readings.source_id` holds that id: 4 bytes a row, the same for every
 *   reading of a batch (so compressed chunks keep it as long runs). NULL for
 *   readings stored before this migration, restored from the archive, or
 *   replayed dead letters. No foreign key: the hot path would pay a lookup
 *   per row, and sources are never deleted.
 *
 * The column is nullable without a default: PostgreSQL adds it to the
 * catalog only (no table rewrite), and TimescaleDB adds it to a hypertable
 * with compressed chunks without decompressing them (tested on the server
 * and the embedded build: provenance-migration.int.test.ts).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE reading_sources (
      id               integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      device_id        integer NOT NULL REFERENCES devices (id),
      -- Prefix of the API key that authenticated the stream ('' when none).
      key_prefix       text NOT NULL DEFAULT '' CHECK (length(key_prefix) <= 64),
      -- SHA-256 of the verified client certificate, lower-case hex ('' when none).
      cert_fingerprint text NOT NULL DEFAULT '' CHECK (cert_fingerprint = '' OR cert_fingerprint ~ '^[0-9a-f]{64}$'),
      -- The receiver instance (its pod name) that took the batches.
      receiver         text NOT NULL CHECK (length(receiver) BETWEEN 1 AND 253),
      created_at       timestamptz NOT NULL DEFAULT now(),
      CHECK (key_prefix <> '' OR cert_fingerprint <> ''),
      UNIQUE (device_id, key_prefix, cert_fingerprint, receiver)
    )`.execute(db);
  await sql`ALTER TABLE readings ADD COLUMN source_id integer`.execute(db);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE readings DROP COLUMN IF EXISTS source_id`.execute(db);
  await sql`DROP TABLE IF EXISTS reading_sources`.execute(db);
}

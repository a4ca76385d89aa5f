import { type Kysely, sql } from "kysely";
import { AUDIT_CANONICAL_SQL, AUDIT_GENESIS_HASH_SQL } from "../audit-chain.ts";
import { createComponentRoles } from "../component-roles.ts";

/**
 * Hospital-grade trust (issue 13):
 *
 * - `device_certificates`: X.509 client certificates registered to devices
 *   by their SHA-256 fingerprint (mTLS on the receiver).
 * - The audit log becomes a hash chain: every row carries the hash of the
 *   one before (`prev_hash`) and its own (`hash`, SHA-256 over the previous
 *   hash and a canonical encoding of the row), set by a BEFORE INSERT
 *   trigger so every writer of audit_log is covered; UPDATE, DELETE and
 *   TRUNCATE are refused. Rows already there are chained in id order.
 * - One login role per component (vigil_receiver, vigil_writer,
 *   vigil_query, vigil_lifecycle); their grants are applied after every
 *   migration run (component-roles.ts).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE device_certificates (
      id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      device_id    integer NOT NULL REFERENCES devices (id),
      -- SHA-256 of the certificate's DER, lower-case hex: how the receiver finds the device.
      fingerprint  text NOT NULL UNIQUE CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
      subject      text NOT NULL,
      issuer       text NOT NULL,
      serial       text NOT NULL,
      not_before   timestamptz NOT NULL,
      not_after    timestamptz NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      -- A rotated-out certificate stops working at expires_at (the grace period).
      expires_at   timestamptz,
      revoked_at   timestamptz
    )`.execute(db);
  await sql`CREATE INDEX device_certificates_device ON device_certificates (device_id)`.execute(db);

  await sql`
    ALTER TABLE audit_log
      ADD COLUMN chain_seq bigint,
      ADD COLUMN prev_hash bytea,
      ADD COLUMN hash bytea`.execute(db);
  // The chain's newest link: one row, locked by every append, so appends are ordered. Only
  // the trigger (SECURITY DEFINER, as the schema owner) writes it: no component can move it.
  await sql`
    CREATE TABLE audit_chain_head (
      one  boolean PRIMARY KEY DEFAULT true CHECK (one),
      seq  bigint NOT NULL,
      hash bytea NOT NULL
    )`.execute(db);
  await sql
    .raw(`
    CREATE FUNCTION vigil_audit_chain() RETURNS trigger LANGUAGE plpgsql
      SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
      head audit_chain_head%ROWTYPE;
    BEGIN
      SELECT * INTO head FROM audit_chain_head FOR UPDATE;
      NEW.chain_seq := head.seq + 1;
      NEW.prev_hash := head.hash;
      NEW.hash := sha256(NEW.prev_hash || convert_to(${AUDIT_CANONICAL_SQL("NEW")}, 'UTF8'));
      UPDATE audit_chain_head SET seq = NEW.chain_seq, hash = NEW.hash;
      RETURN NEW;
    END $$`)
    .execute(db);
  await sql`
    CREATE FUNCTION vigil_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);

  // Chain what is there, in id order, before the triggers take over.
  await sql
    .raw(`
    DO $$
    DECLARE
      r record;
      prev bytea := ${AUDIT_GENESIS_HASH_SQL};
      n bigint := 0;
    BEGIN
      FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        n := n + 1;
        r.chain_seq := n;
        UPDATE audit_log SET chain_seq = n, prev_hash = prev,
          hash = sha256(prev || convert_to(${AUDIT_CANONICAL_SQL("r")}, 'UTF8'))
        WHERE id = r.id RETURNING hash INTO prev;
      END LOOP;
      INSERT INTO audit_chain_head (seq, hash) VALUES (n, prev);
    END $$`)
    .execute(db);
  await sql`
    ALTER TABLE audit_log
      ALTER COLUMN chain_seq SET NOT NULL,
      ALTER COLUMN prev_hash SET NOT NULL,
      ALTER COLUMN hash SET NOT NULL,
      ADD CONSTRAINT audit_log_chain_seq UNIQUE (chain_seq)`.execute(db);
  await sql`
    CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
      FOR EACH ROW EXECUTE FUNCTION vigil_audit_chain()`.execute(db);
  await sql`
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION vigil_audit_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION vigil_audit_append_only()`.execute(db);

  await createComponentRoles(db);
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS audit_log_chain ON audit_log`.execute(db);
  await sql`DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log`.execute(db);
  await sql`DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log`.execute(db);
  await sql`DROP FUNCTION IF EXISTS vigil_audit_chain(), vigil_audit_append_only()`.execute(db);
  await sql`DROP TABLE IF EXISTS audit_chain_head`.execute(db);
  await sql`ALTER TABLE audit_log DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN hash`.execute(db);
  await sql`DROP TABLE IF EXISTS device_certificates`.execute(db);
}

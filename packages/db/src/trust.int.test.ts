import { createTestDatabase } from "@vigil/testkit";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { recordAudit } from "./audit.ts";
import { auditChainHead, verifyAuditChain } from "./audit-chain.ts";
import { type Component, componentRole, setComponentPasswords, tablesWithoutGrants } from "./component-roles.ts";
import { migrateToLatest } from "./migrate.ts";
import { openDatabase, type VigilDatabase } from "./open-database.ts";

let url: string;
let database: VigilDatabase;

beforeAll(async () => {
  url = await createTestDatabase(inject("postgresUrl"), "trust");
  database = await openDatabase(url);
  await migrateToLatest(database.db);
});
afterAll(() => database?.close());

/** Runs `statement` as a component's role; resolves to the SQLSTATE it failed with, or "ok". */
async function asRole(component: Component, statement: string): Promise<string> {
  const u = new URL(url);
  u.username = componentRole(component);
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(statement);
    return "ok";
  } catch (err) {
    if (process.env.TRUST_DEBUG) console.log(statement, (err as Error).message);
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await client.end();
  }
}

/** Edits the audit log the way a database administrator could: triggers off, as superuser. */
async function tamper(statement: string): Promise<void> {
  await database.db.transaction().execute(async (tx) => {
    await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`.execute(tx);
    await sql.raw(statement).execute(tx);
    await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`.execute(tx);
  });
}

/** Moves entries to new chain positions (`to` as a negative number first: chain_seq is unique). */
async function renumber(to: string, where: string): Promise<void> {
  await tamper(`UPDATE audit_log SET chain_seq = ${to} WHERE ${where}`);
  await tamper("UPDATE audit_log SET chain_seq = -chain_seq WHERE chain_seq < 0");
}

const INSUFFICIENT_PRIVILEGE = "42501";

describe("audit hash chain", () => {
  it("chains every writer's entries and verifies them, also when many append at once", async () => {
    await recordAudit(database.db, {
      actor: "user:alice",
      action: "device.create",
      target: "device:OR-1",
      details: { b: 2, a: [1, "x"] },
    });
    // A writer that bypasses recordAudit is chained all the same (the trigger does it).
    await sql`INSERT INTO audit_log (actor, action) VALUES ('system:other', 'thing.happen')`.execute(database.db);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        recordAudit(database.db, {
          actor: `user:u${i}`,
          action: "readings.read",
          details: { rows: i },
          rowsAffected: i,
        }),
      ),
    );
    const result = await verifyAuditChain(database.db);
    expect(result).toMatchObject({ ok: true, entries: 22, head: { seq: 22 } });
    expect((await auditChainHead(database.db)).hash).toBe(result.head.hash);
  });

  it("refuses UPDATE, DELETE and TRUNCATE of the audit log, even to its owner", async () => {
    await expect(sql`UPDATE audit_log SET actor = 'x'`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`TRUNCATE audit_log`.execute(database.db)).rejects.toThrow(/append-only/);
  });

  it("names the first edited, deleted or reordered entry, and a chain rewritten past an exported head", async () => {
    const head = await auditChainHead(database.db);
    expect((await verifyAuditChain(database.db, { heads: [head] })).ok).toBe(true);

    // Edited: one field of entry 5.
    const { rows } = await sql<{
      id: number;
      details: unknown;
    }>`SELECT id, details FROM audit_log WHERE chain_seq = 5`.execute(database.db);
    const row = rows[0]!;
    await tamper(`UPDATE audit_log SET details = '{"rows": 999}' WHERE chain_seq = 5`);
    expect((await verifyAuditChain(database.db)).problem).toMatchObject({ kind: "edited", seq: 5, id: row.id });
    await tamper(`UPDATE audit_log SET details = '${JSON.stringify(row.details)}' WHERE chain_seq = 5`);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);

    // Deleted: entry 7 gone (kept aside to put back).
    await sql`CREATE TABLE audit_saved AS SELECT * FROM audit_log WHERE chain_seq = 7`.execute(database.db);
    await tamper("DELETE FROM audit_log WHERE chain_seq = 7");
    expect((await verifyAuditChain(database.db)).problem).toMatchObject({ kind: "deleted", seq: 7 });

    // Deleted and renumbered to hide the gap: entry 7 is now another one, its hash no longer fits.
    await renumber("-(chain_seq - 1)", "chain_seq > 7");
    expect((await verifyAuditChain(database.db)).problem).toMatchObject({ kind: "edited", seq: 7 });

    // Put back as it was.
    await renumber("-(chain_seq + 1)", "chain_seq >= 7");
    await tamper("INSERT INTO audit_log OVERRIDING SYSTEM VALUE SELECT * FROM audit_saved");
    await sql`DROP TABLE audit_saved`.execute(database.db);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);

    // Reordered: entries 3 and 4 swap places (with their hashes).
    await renumber("-(CASE chain_seq WHEN 3 THEN 4 ELSE 3 END)", "chain_seq IN (3, 4)");
    expect((await verifyAuditChain(database.db)).problem).toMatchObject({ seq: 3 });
    await renumber("-(CASE chain_seq WHEN 3 THEN 4 ELSE 3 END)", "chain_seq IN (3, 4)");

    // Rewritten wholesale: an edit with every later hash recomputed and the head moved passes the chain
    // walk, but not the head exported before.
    await tamper(`UPDATE audit_log SET actor = 'user:mallory' WHERE chain_seq = 10`);
    await sql
      .raw(`
      DO $$ DECLARE r record; prev bytea; BEGIN
        ALTER TABLE audit_log DISABLE TRIGGER USER;
        SELECT hash INTO prev FROM audit_log WHERE chain_seq = 9;
        FOR r IN SELECT * FROM audit_log WHERE chain_seq >= 10 ORDER BY chain_seq LOOP
          UPDATE audit_log SET prev_hash = prev, hash = sha256(prev || convert_to(jsonb_build_array(r.chain_seq,
            floor(extract(epoch FROM r.at) * 1000000)::bigint, r.actor, r.action, r.target, r.details, r.rows_affected,
            r.trace_id)::text, 'UTF8')) WHERE id = r.id RETURNING hash INTO prev;
        END LOOP;
        UPDATE audit_chain_head SET hash = prev;
        ALTER TABLE audit_log ENABLE TRIGGER USER;
      END $$`)
      .execute(database.db);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
    expect((await verifyAuditChain(database.db, { heads: [head] })).problem).toMatchObject({ kind: "head_mismatch" });
  });
});

describe("component roles", () => {
  it("every table has a row in COMPONENT_GRANTS", async () => {
    expect(await tablesWithoutGrants(database.db)).toEqual([]);
  });

  it("deny each component what it must not do", async () => {
    // The internet-facing receiver: no users, no readings, no DDL, no audit edits.
    expect(await asRole("receiver", "SELECT * FROM users")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "SELECT password_hash FROM users")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "SELECT * FROM refresh_tokens")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "SELECT * FROM readings")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "CREATE TABLE x (a int)")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "DROP TABLE readings")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "UPDATE audit_log SET actor = 'x'")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("receiver", "UPDATE audit_chain_head SET seq = 0")).toBe(INSUFFICIENT_PRIVILEGE);
    // The writer: readings in, nothing about people.
    expect(await asRole("writer", "SELECT * FROM users")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("writer", "SELECT * FROM device_keys")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("writer", "DELETE FROM readings")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("writer", "TRUNCATE readings")).toBe(INSUFFICIENT_PRIVILEGE);
    // The query service: no DDL, never edit the audit log or the correction history.
    expect(await asRole("query", "CREATE TABLE x (a int)")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("query", "DELETE FROM audit_log")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("query", "UPDATE audit_log SET actor = 'x'")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("query", "DELETE FROM reading_history")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("query", "UPDATE reading_corrections SET actor = 'x'")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("query", "ALTER TABLE readings ADD COLUMN x int")).toBe(INSUFFICIENT_PRIVILEGE);
    // The receiver counts a device's recent rejects, but never reads their payloads.
    expect(await asRole("receiver", "SELECT count(*) FROM dead_letters WHERE device_id = 1")).toBe("ok");
    expect(await asRole("receiver", "SELECT payload FROM dead_letters")).toBe(INSUFFICIENT_PRIVILEGE);
    // The alerter (vigil_alerter, migration 0019): alerts, not accounts, keys or readings.
    expect(await asRole("alerter", "SELECT password_hash FROM users")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "SELECT * FROM refresh_tokens")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "SELECT * FROM device_keys")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "SELECT * FROM readings")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "UPDATE devices SET disabled_at = now()")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "DELETE FROM alert_rules")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "UPDATE alert_rules SET enabled = false")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(
      await asRole(
        "alerter",
        "INSERT INTO silences (starts_at, ends_at, created_by) VALUES (now(), now() + interval '1 h', 'x')",
      ),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "DELETE FROM alerts")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "UPDATE audit_log SET actor = 'x'")).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await asRole("alerter", "CREATE TABLE x (a int)")).toBe(INSUFFICIENT_PRIVILEGE);
  });

  it("allow what each component does", async () => {
    await sql`INSERT INTO devices (code, number) VALUES ('ROLE', 1)`.execute(database.db);
    expect(await asRole("receiver", "SELECT d.id FROM device_keys k JOIN devices d ON d.id = k.device_id")).toBe("ok");
    expect(
      await asRole("receiver", "UPDATE devices SET connected = true, last_seen_at = now() WHERE code = 'ROLE'"),
    ).toBe("ok");
    expect(await asRole("receiver", "INSERT INTO dead_letters (source, reason) VALUES ('receiver', 'test')")).toBe(
      "ok",
    );
    expect(
      await asRole("receiver", "INSERT INTO audit_log (actor, action) VALUES ('system:receiver', 'test.role')"),
    ).toBe("ok");
    expect(
      await asRole(
        "writer",
        "INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id) VALUES (now(), 1, 1, now(), 1, 1)",
      ),
    ).toBe("ok");
    expect(await asRole("writer", "INSERT INTO sensors (name) VALUES ('role.test')")).toBe("ok");
    expect(await asRole("query", "SELECT count(*) FROM readings_1h")).toBe("ok");
    expect(await asRole("query", "SELECT username FROM users")).toBe("ok");
    expect(await asRole("query", "UPDATE readings SET value = 2, updated_at = now() WHERE device_id = 1")).toBe("ok");
    expect(await asRole("alerter", "SELECT code, number, labels FROM devices")).toBe("ok");
    expect(await asRole("alerter", "SELECT count(*) FROM alert_rules r JOIN silences s ON true")).toBe("ok");
    expect(await asRole("alerter", "INSERT INTO alerter_members (id) VALUES ('role-test')")).toBe("ok");
    expect(await asRole("alerter", "UPDATE alerter_members SET heartbeat_at = now() WHERE id = 'role-test'")).toBe(
      "ok",
    );
    expect(await asRole("alerter", "DELETE FROM alerter_members WHERE id = 'role-test'")).toBe("ok");
    expect(await asRole("alerter", "INSERT INTO alerter_partitions (partition, partitions) VALUES (0, 1)")).toBe("ok");
    expect(await asRole("alerter", "UPDATE alerts SET state = state")).toBe("ok");
    expect(await asRole("alerter", "UPDATE alert_deliveries SET attempts = attempts")).toBe("ok");
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it("sets passwords as SCRAM verifiers that PostgreSQL accepts", async () => {
    await setComponentPasswords(database.db, { receiver: "receiver-password-for-tests" });
    const { rows } = await sql<{ rolpassword: string }>`
      SELECT rolpassword FROM pg_authid WHERE rolname = 'vigil_receiver'`.execute(database.db);
    expect(rows[0]!.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
  });
});

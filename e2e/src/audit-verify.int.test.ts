import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DirectoryStore, exportAuditHead } from "@vigil/archive";
import { openDatabase, recordAudit, sql, type VigilDatabase } from "@vigil/db";
import { createTestDatabase, repoRoot } from "@vigil/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);

/**
 * `vigil audit verify` as a security officer runs it, against a real
 * PostgreSQL whose audit log a database administrator edits behind
 * Vigil's back (triggers disabled, as a superuser can).
 */
describe("vigil audit verify and vigil migrate's roles", () => {
  let env: Record<string, string>;
  let database: VigilDatabase;
  const dir = mkdtempSync(join(tmpdir(), "vigil-audit-"));

  beforeAll(async () => {
    env = {
      ...process.env,
      DATABASE_URL: await createTestDatabase(inject("postgresUrl"), "auditcli"),
      NATS_URL: inject("natsUrl"),
    } as Record<string, string>;
  });
  afterAll(async () => {
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function vigil(args: string[], extraEnv: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await run(process.execPath, [join(repoRoot, "packages/cli/src/main.ts"), ...args], {
        env: { ...env, ...extraEnv },
      });
      return { code: 0, out: JSON.parse(stdout), err: stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, out: err.stdout ? JSON.parse(err.stdout) : undefined, err: err.stderr };
    }
  }

  async function tamper(statement: string): Promise<void> {
    await database.db.transaction().execute(async (tx) => {
      await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`.execute(tx);
      await sql.raw(statement).execute(tx);
      await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`.execute(tx);
    });
  }

  it("migrate creates the component roles and sets their passwords from the environment", async () => {
    const passwordFile = join(dir, "writer-password");
    writeFileSync(passwordFile, "writer-password-from-a-secret\n");
    const migrated = await vigil(["migrate"], {
      DATABASE_ROLE_PASSWORD_RECEIVER: "receiver-password-for-tests",
      DATABASE_ROLE_PASSWORD_WRITER_FILE: passwordFile,
    });
    expect(migrated.code).toBe(0);
    expect(migrated.out).toMatchObject({
      applied: expect.arrayContaining(["0015-trust"]),
      roles: { receiver: "vigil_receiver", writer: "vigil_writer", query: "vigil_query" },
      passwordsSet: ["receiver", "writer"],
    });
    expect(JSON.stringify(migrated)).not.toContain("receiver-password-for-tests");
    database = await openDatabase(env.DATABASE_URL!);
    const { rows } = await sql<{ rolname: string; verifier: string }>`
      SELECT rolname, rolpassword AS verifier FROM pg_authid WHERE rolname IN ('vigil_receiver', 'vigil_writer')
      ORDER BY rolname`.execute(database.db);
    expect(rows.map((r) => r.verifier)).toEqual([
      expect.stringMatching(/^SCRAM-SHA-256\$/),
      expect.stringMatching(/^SCRAM-SHA-256\$/),
    ]);
    // The receiver's role signs in and is refused the users table.
    const u = new URL(env.DATABASE_URL!);
    u.username = "vigil_receiver";
    u.password = "receiver-password-for-tests";
    const client = new pg.Client({ connectionString: u.toString() });
    await client.connect();
    try {
      await expect(client.query("SELECT password_hash FROM users")).rejects.toMatchObject({ code: "42501" });
      await expect(client.query("SELECT count(*) FROM device_keys")).resolves.toBeTruthy();
    } finally {
      await client.end();
    }

    const short = await vigil(["migrate"], { DATABASE_ROLE_PASSWORD_QUERY: "short" });
    expect(short.code).toBe(2);
    expect(short.err).toContain("at least 16 characters");
  });

  it("passes an untouched chain and names the first edited, deleted or reordered entry", async () => {
    for (let i = 1; i <= 12; i++) {
      await recordAudit(database.db, { actor: `user:u${i}`, action: "readings.read", details: { i } });
    }
    const clean = await vigil(["audit", "verify"]);
    expect(clean.code).toBe(0);
    expect(clean.out).toMatchObject({ ok: true, entries: 12, head: { seq: 12 } });

    const head = await vigil(["audit", "head"]);
    expect(head.out).toMatchObject({ seq: 12, hash: clean.out.head.hash });
    const headsFile = join(dir, "heads.jsonl");
    writeFileSync(headsFile, `${JSON.stringify(head.out)}\n`);

    await tamper("UPDATE audit_log SET actor = 'user:mallory' WHERE chain_seq = 4");
    const edited = await vigil(["audit", "verify"]);
    expect(edited.code).toBe(1);
    expect(edited.out.ok).toBe(false);
    expect(edited.out.problem).toMatchObject({ kind: "edited", seq: 4 });
    expect(edited.out.problem.message).toContain("entry 4");
    await tamper("UPDATE audit_log SET actor = 'user:u4' WHERE chain_seq = 4");
    expect((await vigil(["audit", "verify"])).code).toBe(0);

    await tamper("DELETE FROM audit_log WHERE chain_seq = 12");
    await tamper("UPDATE audit_chain_head SET seq = 11, hash = (SELECT hash FROM audit_log WHERE chain_seq = 11)");
    // Without a saved head, deleting the newest entry and moving the recorded head is invisible…
    expect((await vigil(["audit", "verify"])).code).toBe(0);
    // …with one, it is not.
    const truncated = await vigil(["audit", "verify", "--heads", headsFile]);
    expect(truncated.code).toBe(1);
    expect(truncated.out).toMatchObject({ ok: false, headsChecked: 1, problem: { kind: "truncated", seq: 12 } });

    await tamper("DELETE FROM audit_log WHERE chain_seq = 6");
    const deleted = await vigil(["audit", "verify"]);
    expect(deleted.out.problem).toMatchObject({ kind: "deleted", seq: 6 });
  });

  it("checks the heads the lifecycle service exported to the archive", async () => {
    const archive = join(dir, "archive");
    const store = new DirectoryStore(archive);
    const fresh = await createTestDatabase(inject("postgresUrl"), "auditarchive");
    const other = await openDatabase(fresh);
    try {
      await vigil(["migrate"], { DATABASE_URL: fresh });
      await recordAudit(other.db, { actor: "user:a", action: "device.create" });
      const day1 = Date.parse("2026-01-01T03:00:00Z");
      expect(await exportAuditHead(other.db, store, day1)).toMatchObject({ seq: 1 });
      // Once a day: a second run the same day leaves the export alone.
      await recordAudit(other.db, { actor: "user:b", action: "device.create" });
      expect(await exportAuditHead(other.db, store, day1 + 3_600_000)).toBeUndefined();
      expect(await exportAuditHead(other.db, store, day1 + 86_400_000)).toMatchObject({ seq: 2 });

      const ok = await vigil(["audit", "verify", "--archive", `file:${archive}`], { DATABASE_URL: fresh });
      expect(ok.out).toMatchObject({ ok: true, headsChecked: 2 });

      // Rewritten wholesale: entry 1 edited and every hash after it recomputed, head moved.
      await other.db.transaction().execute(async (tx) => {
        await sql`ALTER TABLE audit_log DISABLE TRIGGER USER`.execute(tx);
        await sql`UPDATE audit_log SET actor = 'user:mallory' WHERE chain_seq = 1`.execute(tx);
        await sql
          .raw(`
          DO $$ DECLARE r record; prev bytea := '\\x${"00".repeat(32)}'::bytea; BEGIN
            FOR r IN SELECT * FROM audit_log ORDER BY chain_seq LOOP
              UPDATE audit_log SET prev_hash = prev, hash = sha256(prev || convert_to(jsonb_build_array(r.chain_seq,
                floor(extract(epoch FROM r.at) * 1000000)::bigint, r.actor, r.action, r.target, r.details,
                r.rows_affected, r.trace_id)::text, 'UTF8')) WHERE id = r.id RETURNING hash INTO prev;
            END LOOP;
            UPDATE audit_chain_head SET hash = prev;
          END $$`)
          .execute(tx);
        await sql`ALTER TABLE audit_log ENABLE TRIGGER USER`.execute(tx);
      });
      expect((await vigil(["audit", "verify"], { DATABASE_URL: fresh })).out.ok).toBe(true);
      const caught = await vigil(["audit", "verify", "--archive", `file:${archive}`], { DATABASE_URL: fresh });
      expect(caught.code).toBe(1);
      expect(caught.out.problem).toMatchObject({ kind: "head_mismatch", seq: 1 });
    } finally {
      await other.close();
    }
  });
});

import { createTestDatabase } from "@vigil/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AuditBatcher } from "./audit-batcher.ts";
import { verifyAuditChain } from "./audit-chain.ts";
import { migrateToLatest } from "./migrate.ts";
import { openDatabase, type VigilDatabase } from "./open-database.ts";

let database: VigilDatabase;

beforeAll(async () => {
  database = await openDatabase(await createTestDatabase(inject("postgresUrl"), "batcher"));
  await migrateToLatest(database.db);
});
afterAll(() => database?.close());

/** Entries in the audit log. */
async function auditRows(): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_log`.execute(database.db);
  return rows[0]!.n;
}

describe("AuditBatcher", () => {
  it("writes concurrent entries in few statements, each committed before its record() resolves, the chain intact", async () => {
    const batcher = new AuditBatcher(database.db, { maxPending: 1_000, maxBatch: 100 });
    const before = await auditRows();
    // Count the INSERT statements: a statement-level trigger on audit_log, for this test only.
    await sql`CREATE TABLE batcher_statements (n int)`.execute(database.db);
    await sql`
      CREATE FUNCTION batcher_count() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO batcher_statements VALUES (1); RETURN NULL; END $$`.execute(database.db);
    await sql`
      CREATE TRIGGER batcher_count AFTER INSERT ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION batcher_count()`.execute(database.db);
    try {
      const done = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          batcher
            .record({ actor: `user:u${i}`, action: "readings.list", details: { i }, rowsAffected: i })
            .then(async () => {
              // Resolved means committed: another connection sees it.
              const { rows } = await sql<{ n: number }>`
                SELECT count(*)::int AS n FROM audit_log WHERE actor = ${`user:u${i}`}`.execute(database.db);
              return rows[0]!.n;
            }),
        ),
      );
      expect(done.every((n) => n === 1)).toBe(true);
      expect(await auditRows()).toBe(before + 300);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM batcher_statements`.execute(database.db);
      // The first entry goes alone; the rest wait for it and go in batches of at most 100.
      expect(rows[0]!.n).toBeGreaterThanOrEqual(4);
      expect(rows[0]!.n).toBeLessThanOrEqual(10);
    } finally {
      await sql`DROP TRIGGER batcher_count ON audit_log`.execute(database.db);
      await sql`DROP FUNCTION batcher_count()`.execute(database.db);
      await sql`DROP TABLE batcher_statements`.execute(database.db);
    }
    await batcher.close();
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it("makes callers wait for room beyond maxPending instead of dropping entries, and writes everything on close", async () => {
    const batcher = new AuditBatcher(database.db, { maxPending: 5, maxBatch: 2 });
    const before = await auditRows();
    let settled = 0;
    const calls = Array.from({ length: 40 }, (_, i) =>
      batcher.record({ actor: "user:bp", action: "readings.stats", details: { i } }).then(() => settled++),
    );
    // Never more than maxPending waiting at once.
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, batcher.pending);
    }, 1);
    await Promise.all(calls);
    clearInterval(sampler);
    expect(most).toBeLessThanOrEqual(5);
    expect(settled).toBe(40);
    expect(await auditRows()).toBe(before + 40);
    await batcher.close();
    await expect(batcher.record({ actor: "user:late", action: "readings.list" })).rejects.toThrow(/closed/);
  });

  it("enqueue() returns once queued, before the COMMIT; the entry is written all the same, and a failure is reported", async () => {
    const batcher = new AuditBatcher(database.db, { maxPending: 100, maxBatch: 100 });
    const before = await auditRows();
    const errors: unknown[] = [];
    // Hold the chain's lock: nothing can be committed until it is released.
    const release = Promise.withResolvers<void>();
    const holding = database.db.transaction().execute(async (tx) => {
      await sql`SELECT 1 FROM audit_chain_head FOR UPDATE`.execute(tx);
      await release.promise;
    });
    await new Promise((r) => setTimeout(r, 50));
    await batcher.enqueue({ actor: "user:async", action: "readings.list" }, (err) => errors.push(err));
    await batcher.enqueue({ actor: "user:\u0000", action: "readings.list" }, (err) => errors.push(err));
    expect(await auditRows()).toBe(before);
    release.resolve();
    await holding;
    await batcher.close();
    expect(await auditRows()).toBe(before + 1);
    expect(errors).toHaveLength(1);
  });

  it("fails only the entry the database refuses, not the others written with it", async () => {
    const batcher = new AuditBatcher(database.db, { maxPending: 100, maxBatch: 100 });
    const before = await auditRows();
    // Three entries queued behind a first one: they go in one batch, with the bad one in the middle.
    const first = batcher.record({ actor: "user:first", action: "readings.list" });
    const outcomes = await Promise.allSettled([
      first,
      batcher.record({ actor: "user:ok1", action: "readings.list" }),
      batcher.record({ actor: "user:bad", action: "readings.list", details: { label: "\u0000" } }),
      batcher.record({ actor: "user:ok2", action: "readings.list" }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(await auditRows()).toBe(before + 3);
    await batcher.close();
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it("rejects the entries of a write that fails, and goes on with the next ones", async () => {
    const batcher = new AuditBatcher(database.db, { maxPending: 100, maxBatch: 100 });
    // A NUL byte cannot be stored in text: the database refuses the whole statement.
    await expect(batcher.record({ actor: "user:\u0000", action: "readings.list" })).rejects.toThrow();
    await expect(batcher.record({ actor: "user:after", action: "readings.list" })).resolves.toBeUndefined();
    await batcher.close();
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });
});

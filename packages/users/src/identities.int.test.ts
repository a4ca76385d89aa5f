import { type Database, type Kysely, migrateToLatest, openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { signInWithIdentity } from "./identities.ts";

describe("signInWithIdentity", () => {
  let database: VigilDatabase;
  let db: Kysely<Database>;

  beforeAll(async () => {
    database = await openDatabase(await createTestDatabase(inject("postgresUrl"), "identities"));
    db = database.db;
    await migrateToLatest(db);
  });
  afterAll(() => database?.close());

  it("links a new identity once however many of its first sign-ins run at the same moment", async () => {
    const identity = { issuer: "https://idp.example", subject: "race-1", usernameHint: "racer", role: "user" as const };
    const results = await Promise.all(Array.from({ length: 8 }, () => signInWithIdentity(db, identity, {})));
    expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
    expect(results.map((r) => r.user.username)).toEqual(Array(8).fill("racer"));
    const { rows } = await sql<{ users: number; links: number }>`
      SELECT (SELECT count(*)::int FROM users WHERE username LIKE 'racer%') AS users,
             (SELECT count(*)::int FROM user_identities WHERE subject = 'race-1') AS links`.execute(db);
    expect(rows[0]).toEqual({ users: 1, links: 1 });
  });
});

import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrateToLatest, openDatabase, schemaGaps, sql, type VigilDatabase, waitForSchema } from "./index.ts";

/** A logger that keeps what it was told. */
function recordingLog() {
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  return {
    lines,
    info: (fields: Record<string, unknown>, message: string) => lines.push({ level: "info", fields, message }),
    warn: (fields: Record<string, unknown>, message: string) => lines.push({ level: "warn", fields, message }),
  };
}

describe("waitForSchema against a database migrated later", () => {
  let url: string;
  let database: VigilDatabase;

  beforeAll(async () => {
    url = await createTestDatabase(inject("postgresUrl"));
    database = await openDatabase(url);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("waits on an empty database, says what it waits for, and starts once the migrations ran", async () => {
    const tables = ["devices", "readings", "alert_rules"];
    expect(await schemaGaps(database.db, tables)).toEqual({ missing: tables, notGranted: [] });

    const log = recordingLog();
    let done = false;
    const waiting = waitForSchema(database.db, {
      component: "alerter",
      tables,
      log,
      initialDelayMs: 50,
      maxDelayMs: 200,
    }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 600));
    expect(done).toBe(false);
    const warned = log.lines.filter((l) => l.level === "warn");
    expect(warned.length).toBeGreaterThanOrEqual(2);
    expect(warned[0]!.message).toMatch(/waiting for the database schema.*alerter.*migrations/);
    expect(warned[0]!.fields.missing).toEqual(tables);
    // Backoff: the pauses grow, up to the cap (with ±20 % jitter).
    const pauses = warned.map((l) => l.fields.retryInMs as number);
    expect(pauses.every((p) => p <= 240)).toBe(true);

    await migrateToLatest(database.db);
    expect(await waiting).toBe(true);
    expect(log.lines.at(-1)).toMatchObject({ level: "info", message: "database schema present: starting" });
    expect(await schemaGaps(database.db, tables)).toEqual({ missing: [], notGranted: [] });
  });

  it("names tables the role may not use yet, and treats an unreachable database as not yet", async () => {
    const role = `schema_wait_${Date.now()}`;
    await sql.raw(`CREATE ROLE ${role} LOGIN`).execute(database.db);
    try {
      const u = new URL(url);
      u.username = role;
      u.password = "";
      const asRole = await openDatabase(u.toString());
      try {
        await sql.raw(`GRANT USAGE ON SCHEMA public TO ${role}`).execute(database.db);
        expect(await schemaGaps(asRole.db, ["devices", "dead_letters"])).toEqual({
          missing: [],
          notGranted: ["devices", "dead_letters"],
        });
        // Column privileges count (the receiver reads three columns of dead_letters).
        await sql.raw(`GRANT SELECT (device_id) ON dead_letters TO ${role}`).execute(database.db);
        await sql.raw(`GRANT INSERT ON devices TO ${role}`).execute(database.db);
        expect(await schemaGaps(asRole.db, ["devices", "dead_letters"])).toEqual({ missing: [], notGranted: [] });
      } finally {
        await asRole.close();
      }
    } finally {
      await sql.raw(`DROP OWNED BY ${role}`).execute(database.db);
      await sql.raw(`DROP ROLE ${role}`).execute(database.db);
    }

    // Nothing listens on port 1: the wait goes on (saying why, without the URL) until it is stopped.
    const nowhere = await openDatabase("postgres://vigil:secret-password@127.0.0.1:1/none");
    try {
      const log = recordingLog();
      const stop = new AbortController();
      const waiting = waitForSchema(nowhere.db, {
        component: "writer",
        tables: ["readings"],
        log,
        signal: stop.signal,
        initialDelayMs: 50,
      });
      await new Promise((r) => setTimeout(r, 300));
      stop.abort();
      expect(await waiting).toBe(false);
      expect(log.lines[0]!.message).toMatch(/waiting for the database: the writer cannot check its tables/);
      expect(JSON.stringify(log.lines)).not.toContain("secret-password");
    } finally {
      await nowhere.close();
    }
  });
});

import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrateToLatest, openDatabase, registerSensors, sql, type VigilDatabase } from "./index.ts";

describe("registerSensors", () => {
  let database: VigilDatabase;

  beforeAll(async () => {
    database = await openDatabase(await createTestDatabase(inject("postgresUrl")));
    await migrateToLatest(database.db);
    await sql`INSERT INTO devices (code, number) VALUES ('SN', 1), ('SN', 2)`.execute(database.db);
  });
  afterAll(() => database?.close());

  it("item 3: looks names up before inserting, so known names spend no ids", async () => {
    const first = await registerSensors(database.db, ["a.one", "a.two"]);
    expect(first.ok && [...first.ids.values()]).toEqual([1, 2]);
    for (let i = 0; i < 50; i++) await registerSensors(database.db, ["a.one", "a.two"]);
    const next = await registerSensors(database.db, ["a.three"]);
    expect(next.ok && next.ids.get("a.three")).toBe(3);
  });

  it("item 3: holds a device to its quota of new names per window, counted in the database", async () => {
    const quota = { deviceId: 1, maxNew: 3, windowMs: 3_600_000 };
    expect((await registerSensors(database.db, ["q.a", "q.b"], quota)).ok).toBe(true);
    const over = await registerSensors(database.db, ["q.c", "q.d"], quota);
    expect(over).toMatchObject({ ok: false, kind: "quota" });
    // Nothing of a refused call is added; known names and the rest of the quota still work.
    expect((await registerSensors(database.db, ["q.a", "q.c"], quota)).ok).toBe(true);
    expect((await registerSensors(database.db, ["q.d"], quota)).ok).toBe(false);
    // Another device, and names another device already added, cost this one nothing.
    expect((await registerSensors(database.db, ["q.d", "q.a"], { ...quota, deviceId: 2 })).ok).toBe(true);
    expect((await registerSensors(database.db, ["q.d"], quota)).ok).toBe(true);
    // Concurrent calls of one device cannot both pass the quota.
    const racing = await Promise.all(
      [
        ["r.a", "r.b"],
        ["r.c", "r.d"],
      ].map((names) => registerSensors(database.db, names, { deviceId: 2, maxNew: 3, windowMs: 3_600_000 })),
    );
    expect(racing.filter((r) => r.ok)).toHaveLength(1);
  });
});

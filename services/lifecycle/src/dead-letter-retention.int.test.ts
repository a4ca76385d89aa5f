import { migrateToLatest, openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { createLogger } from "@vigil/runtime";
import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLifecycleApp, type LifecycleApp } from "./app.ts";
import { loadLifecycleConfig } from "./config.ts";

describe("dead-letter retention", () => {
  let database: VigilDatabase;
  let lifecycle: LifecycleApp;

  beforeAll(async () => {
    const url = await createTestDatabase(inject("postgresUrl"));
    database = await openDatabase(url);
    await migrateToLatest(database.db);
    lifecycle = createLifecycleApp(
      loadLifecycleConfig({
        DATABASE_URL: url,
        LIFECYCLE_OPS_PORT: "0",
        LIFECYCLE_OPS_HOST: "127.0.0.1",
        LIFECYCLE_INTERVAL_MS: "3600000",
        DEAD_LETTERS_RETENTION_MS: String(30 * 86_400_000),
      }),
      { logger: createLogger({ name: "test", level: "silent" }) },
    );
    await lifecycle.start();
  });
  afterAll(async () => {
    await lifecycle?.stop();
    await database?.close();
  });

  it("item 5: deletes old refused batches and replayed ones, keeps every unreplayed writer dead letter", async () => {
    const { db } = database;
    await sql`INSERT INTO devices (code, number) VALUES ('DL', 1)`.execute(db);
    const letter = (source: string, ageDays: number, replayedDaysAgo: number | null, reason: string) =>
      sql`
      INSERT INTO dead_letters (device_id, seq, source, reason, payload, created_at, replayed_at)
      VALUES (1, 1, ${source}, ${reason}, '\\x01', now() - make_interval(days => ${ageDays}),
              ${replayedDaysAgo === null ? null : sql`now() - make_interval(days => ${replayedDaysAgo})`})`.execute(db);
    await letter("receiver", 40, null, "old reject");
    await letter("receiver", 2, null, "recent reject");
    await letter("writer", 400, null, "old acked batch never stored");
    await letter("writer", 400, 35, "old acked batch replayed long ago");
    await letter("writer", 40, 1, "replayed yesterday");
    expect(await lifecycle.runOnce()).toBe(true);
    const { rows } = await sql<{ reason: string }>`SELECT reason FROM dead_letters ORDER BY id`.execute(db);
    expect(rows.map((r) => r.reason)).toEqual(["recent reject", "old acked batch never stored", "replayed yesterday"]);
    expect(lifecycle.metrics.deadLettersDeleted).toBe(2);
  });
});

import { createTestDatabase, startTcpProxy, type TcpProxy } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { isLatencyTuned, openDatabase, pingDatabase, sql, type VigilDatabase } from "./index.ts";

describe("openDatabase against a server that goes away", () => {
  let proxy: TcpProxy;
  let database: VigilDatabase;

  beforeAll(async () => {
    const url = new URL(await createTestDatabase(inject("postgresUrl")));
    proxy = await startTcpProxy(url.hostname, Number(url.port));
    url.host = `127.0.0.1:${proxy.port}`;
    database = await openDatabase(url.href);
  });
  afterAll(async () => {
    await database?.close();
    await proxy?.close();
  });

  it("fails the work in progress, not the process, and recovers when the server is back", async () => {
    expect(await pingDatabase(database.db)).toBe(true);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    try {
      // A transaction holds its client between queries: the moment a dropped
      // connection used to surface as an uncaught "error" event.
      const held = database.db.transaction().execute(async (tx) => {
        await sql`SELECT 1`.execute(tx);
        proxy.cut();
        await new Promise((r) => setTimeout(r, 200));
        await sql`SELECT 2`.execute(tx);
      });
      await expect(held).rejects.toThrow();
      expect(await pingDatabase(database.db, 500)).toBe(false);
      proxy.restore();
      expect(await pingDatabase(database.db)).toBe(true);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });
});

describe("openDatabase latencyTuned (the query service's pool)", () => {
  const settings = async (database: VigilDatabase) => {
    const { rows } = await sql<{ jit: string; workers: string; storage: string }>`
      SELECT current_setting('jit') AS jit, current_setting('max_parallel_workers_per_gather') AS workers,
             current_setting('vigil.storage', true) AS storage`.execute(database.db);
    return rows[0];
  };

  it("turns JIT and parallel workers off on every connection, keeping the URL's own startup options", async () => {
    const url = new URL(await createTestDatabase(inject("postgresUrl")));
    url.searchParams.set("options", "-c vigil.storage=postgresql");
    const tuned = await openDatabase(url.href, { latencyTuned: true, maxConnections: 3 });
    const plain = await openDatabase(url.href);
    try {
      expect(isLatencyTuned(tuned.db)).toBe(true);
      expect(isLatencyTuned(plain.db)).toBe(false);
      // Three at once: three connections of the pool, each with the settings.
      const seen = await Promise.all([settings(tuned), settings(tuned), settings(tuned)]);
      for (const s of seen) expect(s).toEqual({ jit: "off", workers: "0", storage: "postgresql" });
      expect(await settings(plain)).toEqual({ jit: "on", workers: "2", storage: "postgresql" });
    } finally {
      await tuned.close();
      await plain.close();
    }
  });
});

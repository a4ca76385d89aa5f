import { createTestDatabase, startTcpProxy, type TcpProxy } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase, pingDatabase, sql, type VigilDatabase } from "./index.ts";

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

import { createTestDatabase, type PostgresServer, startPostgres, timescaleServer } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hasTimescale, openDatabase, sql, type VigilDatabase } from "./index.ts";
import { migrateToLatest } from "./migrate.ts";

const server = timescaleServer(inject("timescaleUrl"));

/** The URL with `vigil.storage` set for its connections, the way a user would. */
function withStorage(url: string, storage: string): string {
  const u = new URL(url);
  u.searchParams.set("options", `-c vigil.storage=${storage}`);
  return u.href;
}

async function relkind(database: VigilDatabase, name: string): Promise<string | undefined> {
  const { rows } = await sql<{ kind: string }>`
    SELECT relkind AS kind FROM pg_class WHERE relname = ${name} AND relnamespace = 'public'::regnamespace`.execute(
    database.db,
  );
  return rows[0]?.kind;
}

describe.skipIf(!server.available)(
  `migrations on a server with TimescaleDB installed but not preloaded${server.skipReason && ` (${server.skipReason})`}`,
  () => {
    let notPreloaded: PostgresServer;
    const open: VigilDatabase[] = [];
    const connect = async (url: string) => {
      const database = await openDatabase(url);
      open.push(database);
      return database;
    };

    beforeAll(async () => {
      notPreloaded = await startPostgres({ fast: true, timescaledb: "not-preloaded" });
    });
    afterAll(async () => {
      for (const d of open) await d.close();
      await notPreloaded?.stop();
    });

    it("stop with what to set, and leave the database and the connection as they were", async () => {
      const database = await connect(await createTestDatabase(notPreloaded.url, "not_preloaded"));
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'timescaledb'`.execute(database.db);
      expect(rows[0]!.n).toBe(1);
      const error = await migrateToLatest(database.db).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error?.message).toMatch(/^migration 0001-core failed: TimescaleDB is installed .* but not preloaded/);
      expect(error?.message).toContain("shared_preload_libraries = 'timescaledb'");
      expect(error?.message).toContain("vigil.storage = postgresql");
      // Nothing was created, and the pool still works (CREATE EXTENSION would have ended the connection).
      expect(await relkind(database, "devices")).toBeUndefined();
      expect(await hasTimescale(database.db)).toBe(false);
    });

    it("build plain PostgreSQL tables when vigil.storage = postgresql", async () => {
      const database = await connect(
        withStorage(await createTestDatabase(notPreloaded.url, "not_preloaded"), "postgresql"),
      );
      await migrateToLatest(database.db);
      expect(await relkind(database, "readings")).toBe("p");
      expect(await relkind(database, "readings_1h_rollup")).toBe("r");
      expect(await hasTimescale(database.db)).toBe(false);
    });

    it("refuse vigil.storage = timescaledb with the same message", async () => {
      const database = await connect(
        withStorage(await createTestDatabase(notPreloaded.url, "not_preloaded"), "timescaledb"),
      );
      await expect(migrateToLatest(database.db)).rejects.toThrow(/not preloaded/);
    });
  },
);

describe("the storage a migration builds, chosen by vigil.storage", () => {
  const open: VigilDatabase[] = [];
  const connect = async (url: string) => {
    const database = await openDatabase(url);
    open.push(database);
    return database;
  };
  afterAll(async () => {
    for (const d of open) await d.close();
  });

  it("refuses timescaledb on a PostgreSQL without TimescaleDB", async () => {
    const database = await connect(
      withStorage(await createTestDatabase(inject("postgresUrl"), "storage"), "timescaledb"),
    );
    await expect(migrateToLatest(database.db)).rejects.toThrow(
      "vigil.storage = timescaledb, but TimescaleDB is not installed on this PostgreSQL server",
    );
    expect(await relkind(database, "devices")).toBeUndefined();
  });

  it("refuses a value it does not know", async () => {
    const database = await connect(withStorage(await createTestDatabase(inject("postgresUrl"), "storage"), "mysql"));
    await expect(migrateToLatest(database.db)).rejects.toThrow(
      'vigil.storage must be timescaledb or postgresql, not "mysql"',
    );
  });

  it.skipIf(!server.available)(
    "builds hypertables where TimescaleDB is preloaded, and plain tables on request",
    async () => {
      const url = await server.createDatabase("storage");
      const auto = await connect(url);
      await migrateToLatest(auto.db);
      expect(await hasTimescale(auto.db)).toBe(true);
      const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'`.execute(
        auto.db,
      );
      expect(rows[0]!.n).toBe(1);

      const plain = await connect(withStorage(await server.createDatabase("storage"), "postgresql"));
      await migrateToLatest(plain.db);
      expect(await relkind(plain, "readings")).toBe("p");
      expect(await hasTimescale(plain.db)).toBe(false);
    },
  );
});

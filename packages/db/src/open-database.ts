import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "./schema.ts";

/** An open database: the Kysely handle plus what the engine can do. */
export interface VigilDatabase {
  db: Kysely<Database>;
  /** "postgres" for a server, "embedded" for the in-process PGlite build. */
  engine: "postgres" | "embedded";
  /**
   * The pg pool behind `db` on a server, for what Kysely cannot express
   * (COPY); undefined on the embedded engine.
   */
  pool?: pg.Pool;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Most connections the pool opens (PostgreSQL only). */
  maxConnections?: number;
  /** Application name shown in pg_stat_activity (PostgreSQL only). */
  applicationName?: string;
  /** The server cancels a statement that runs longer (SQLSTATE 57014); unset or 0: never (PostgreSQL only). */
  statementTimeoutMs?: number;
  /**
   * JIT compilation and parallel workers off on every connection of the pool
   * (PostgreSQL only), set in the startup packet: no statement or round trip
   * per request. For a service whose every statement is short (the query
   * service): the planner's cost estimates of the real-time aggregates are
   * high (their raw part is estimated over the whole table, its start being
   * read at run time), which bought JIT compilation and workers that took
   * longer than the query (see readingStats, which otherwise sets both per
   * transaction).
   */
  latencyTuned?: boolean;
}

/** The settings latencyTuned applies to every connection. */
const LATENCY_SETTINGS = "-c jit=off -c max_parallel_workers_per_gather=0";

/** Kysely instances whose every connection has LATENCY_SETTINGS. */
const latencyTunedDatabases = new WeakSet<object>();

/** True when every statement `db` runs has JIT and parallel workers off (opened with latencyTuned). */
export function isLatencyTuned(db: object): boolean {
  return latencyTunedDatabases.has(db);
}

/** The prefix of an embedded database URL: `embedded:<directory>` or `embedded:memory`. */
export const EMBEDDED_PREFIX = "embedded:";

/**
 * Opens `postgres://…` with a pg pool, or `embedded:<dir>` with PGlite and
 * TimescaleDB in this process (for the quick start and tests; one process
 * only: PGlite is single-connection and not served over a socket).
 */
export async function openDatabase(url: string, options: OpenDatabaseOptions = {}): Promise<VigilDatabase> {
  if (url.startsWith(EMBEDDED_PREFIX)) return openEmbedded(url.slice(EMBEDDED_PREFIX.length));
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error("DATABASE_URL must start with postgres://, postgresql:// or embedded:");
  }
  // Startup options from the URL (`?options=-c …`) would replace these: both are kept, the URL's first.
  const parsed = options.latencyTuned ? new URL(url) : undefined;
  const startupOptions = parsed && [parsed.searchParams.get("options"), LATENCY_SETTINGS].filter(Boolean).join(" ");
  parsed?.searchParams.delete("options");
  const pool = new pg.Pool({
    connectionString: parsed ? parsed.href : url,
    ...(startupOptions && { options: startupOptions }),
    max: options.maxConnections ?? 10,
    application_name: options.applicationName ?? "vigil",
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    types: { getTypeParser: typeParser },
  });
  // A client that loses its server must not crash the process, idle in the
  // pool ("error" on the pool) or checked out between two queries of a
  // transaction ("error" on the client, which has no other listener then):
  // the next query on it fails and reports the error to its caller instead.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  if (options.latencyTuned) latencyTunedDatabases.add(db);
  return { db, engine: "postgres", pool, close: () => db.destroy() };
}

async function openEmbedded(dir: string): Promise<VigilDatabase> {
  // Loaded on demand: server images run on PostgreSQL and leave the embedded
  // engine (most of their node_modules) out.
  const [{ PGlite }, { timescaledb }, { PGliteDialect }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("@electric-sql/pglite/timescaledb"),
    import("kysely-pglite-dialect"),
  ]).catch((err: unknown) => {
    throw new Error(`the embedded database is not installed here (${(err as Error).message}); use a postgres:// URL`);
  });
  const client = await PGlite.create({
    ...(dir === "memory" ? {} : { dataDir: dir }),
    extensions: { timescaledb },
  });
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  // The build ships the extension but PGlite loads it only when asked.
  await sql`CREATE EXTENSION IF NOT EXISTS timescaledb`.execute(db);
  return {
    db,
    engine: "embedded",
    close: async () => {
      await db.destroy();
      if (!client.closed) await client.close();
    },
  };
}

const INT8_OID = 20;

/** int8 (counts, seq) as JS numbers: every value Vigil stores fits in 2^53. */
function typeParser(oid: number, format?: string) {
  if (oid === INT8_OID) return (value: string) => Number(value);
  return pg.types.getTypeParser(oid, format as "text");
}

/** True when the timescaledb extension is installed in this database. */
export async function hasTimescale(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  return rows[0]?.present === true;
}

/** True when the database answers a trivial query within `timeoutMs`. */
export async function pingDatabase(db: Kysely<Database>, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      sql`SELECT 1`.execute(db).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

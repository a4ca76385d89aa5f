import { type Kysely, sql } from "kysely";

/** What the migrations build `readings` on: TimescaleDB hypertables or plain partitioned tables. */
export type StorageEngine = "timescaledb" | "postgresql";

/**
 * The setting that overrides the choice for a migration: `timescaledb` (fail
 * unless TimescaleDB can be used) or `postgresql` (plain tables even where
 * TimescaleDB is installed). Set per connection in the URL
 * (`?options=-c%20vigil.storage%3Dpostgresql`) or, as a superuser, per
 * database (`ALTER DATABASE vigil SET vigil.storage = 'postgresql'`).
 */
export const STORAGE_SETTING = "vigil.storage";

/** A server on which the choice cannot be made safely; the message says what to change. */
export class StorageEngineError extends Error {
  override name = "StorageEngineError";
}

const NOT_PRELOADED =
  "TimescaleDB is installed on this PostgreSQL server but not preloaded, and creating the extension " +
  "would end the connection. Either add it to shared_preload_libraries (postgresql.conf: " +
  "shared_preload_libraries = 'timescaledb', keeping any libraries already listed) and restart PostgreSQL, " +
  `or set ${STORAGE_SETTING} = postgresql for the migration to build plain PostgreSQL tables instead ` +
  "(DATABASE_URL=postgres://…?options=-c%20vigil.storage%3Dpostgresql, or as a superuser " +
  "ALTER DATABASE <name> SET vigil.storage = 'postgresql'). The choice is permanent for the database.";

/**
 * Decides which engine the first migration builds on, before it creates
 * anything. TimescaleDB when the extension is already created in the database
 * (the embedded build) or installed and preloaded; plain PostgreSQL when it is
 * not installed. Installed but not preloaded is refused: `CREATE EXTENSION`
 * would end the connection (TimescaleDB raises FATAL), and quietly building
 * plain tables would fix a database meant for hypertables on the wrong engine
 * for good. `vigil.storage` overrides the automatic choice.
 */
export async function chooseStorageEngine(db: Kysely<unknown>): Promise<StorageEngine> {
  const { rows } = await sql<{ wanted: string | null; created: boolean; available: boolean; preloaded: boolean }>`
    SELECT current_setting(${STORAGE_SETTING}, true) AS wanted,
           EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS created,
           EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
           -- The loader library registers this setting only when preloaded (as an integer; a
           -- value from postgresql.conf without the library would be a string placeholder).
           EXISTS (SELECT 1 FROM pg_settings
                   WHERE name = 'timescaledb.bgw_launcher_poll_time' AND vartype = 'integer') AS preloaded`.execute(db);
  const { wanted, created, available, preloaded } = rows[0]!;
  const choice = wanted === null || wanted === "" ? "auto" : wanted;
  switch (choice) {
    case "postgresql":
      if (created) {
        throw new StorageEngineError(
          `${STORAGE_SETTING} = postgresql, but the timescaledb extension is already created in this database: ` +
            "drop it (DROP EXTENSION timescaledb) or migrate a fresh database",
        );
      }
      return "postgresql";
    case "timescaledb":
      if (created) return "timescaledb";
      if (!available) {
        throw new StorageEngineError(
          `${STORAGE_SETTING} = timescaledb, but TimescaleDB is not installed on this PostgreSQL server`,
        );
      }
      if (!preloaded) throw new StorageEngineError(NOT_PRELOADED);
      return "timescaledb";
    case "auto":
      if (created) return "timescaledb";
      if (!available) return "postgresql";
      if (!preloaded) throw new StorageEngineError(NOT_PRELOADED);
      return "timescaledb";
    default:
      throw new StorageEngineError(
        `${STORAGE_SETTING} must be timescaledb or postgresql, not ${JSON.stringify(wanted)}`,
      );
  }
}

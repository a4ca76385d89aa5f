import { createTestDatabase } from "./test-database.ts";

/** Why the TimescaleDB server tests skip: said once by the global setup and in each skipped suite's name. */
export const TIMESCALEDB_MISSING =
  "TimescaleDB server tests skipped: no TimescaleDB build in .tools/timescaledb and no source archive " +
  "to build one (../shared/vendor/timescaledb-2.23.1.tar.gz next to the checkout, or VIGIL_TIMESCALEDB_ARCHIVE); " +
  "see scripts/install-tools.sh timescaledb";

/** The integration project's PostgreSQL with TimescaleDB preloaded, as an engine for a test suite. */
export interface TimescaleServer {
  /** False when no TimescaleDB build can run here; the suite skips with `skipReason`. */
  available: boolean;
  skipReason: string;
  /** A fresh database on the server. */
  createDatabase(prefix?: string): Promise<string>;
}

/** `url`: inject("timescaleUrl") in a test file ("" when the global setup had no build). */
export function timescaleServer(url: string): TimescaleServer {
  return {
    available: url !== "",
    skipReason: url === "" ? TIMESCALEDB_MISSING : "",
    createDatabase: (prefix = "ts") => {
      if (url === "") return Promise.reject(new Error(TIMESCALEDB_MISSING));
      return createTestDatabase(url, prefix);
    },
  };
}

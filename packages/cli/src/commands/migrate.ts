import { Command } from "@commander-js/extra-typings";
import type { Cli } from "../cli.ts";

/** `vigil migrate`: database-level work, on DATABASE_URL. */
export function migrateCommand(cli: Cli) {
  return new Command("migrate")
    .description("bring the database schema (DATABASE_URL) to this version's latest")
    .action(async () => {
      const database = await cli.database({ unmigrated: true });
      const { hasTimescale, migrateToLatest } = await import("@vigil/db");
      const outcome = await migrateToLatest(database.db);
      cli.output.object({ applied: outcome.applied, timescaledb: await hasTimescale(database.db) });
    });
}

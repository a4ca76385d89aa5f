import { hasTimescale, migrateToLatest, type VigilDatabase } from "@vigil/db";

/** `vigil migrate`: brings the schema to the latest version. */
export async function migrateCommand(database: VigilDatabase): Promise<unknown> {
  const outcome = await migrateToLatest(database.db);
  return { applied: outcome.applied, timescaledb: await hasTimescale(database.db) };
}

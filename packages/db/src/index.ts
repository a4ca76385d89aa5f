export { type Kysely, sql } from "kysely";
export { type AuditEntry, recordAudit } from "./audit.ts";
export { type MigrationOutcome, migrateToLatest } from "./migrate.ts";
export {
  EMBEDDED_PREFIX,
  hasTimescale,
  type OpenDatabaseOptions,
  openDatabase,
  type VigilDatabase,
} from "./open-database.ts";
export type * from "./schema.ts";

export { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from "kysely";
export { type AuditEntry, recordAudit } from "./audit.ts";
export { type MigrationOutcome, migrateToLatest } from "./migrate.ts";
export {
  EMBEDDED_PREFIX,
  hasTimescale,
  type OpenDatabaseOptions,
  openDatabase,
  type VigilDatabase,
} from "./open-database.ts";
export { readingStats, type StatsFilter, type StatsRow } from "./reading-stats.ts";
export type * from "./schema.ts";

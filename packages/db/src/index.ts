export {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  type QueryResult,
  type RawBuilder,
  type SqlBool,
  sql,
} from "kysely";
export { type AuditEntry, recordAudit } from "./audit.ts";
export { AuditBatcher, type AuditBatcherOptions } from "./audit-batcher.ts";
export { type AuditChainHead, type AuditVerification, auditChainHead, verifyAuditChain } from "./audit-chain.ts";
export {
  applyComponentGrants,
  COMPONENT_GRANTS,
  COMPONENTS,
  type Component,
  componentRole,
  scramVerifier,
  setComponentPasswords,
  tablesWithoutGrants,
} from "./component-roles.ts";
export { pruneDeadLetters } from "./dead-letter-retention.ts";
export {
  DAY_MS,
  DEFAULT_LIFECYCLE,
  HOUR_MS,
  intervalLiteral,
  type LifecycleSettings,
  MINUTE_MS,
  refreshWindowMs,
} from "./lifecycle-settings.ts";
export { type MigrationOutcome, migrateTo, migrateToLatest, pendingMigrations } from "./migrate.ts";
export {
  EMBEDDED_PREFIX,
  hasTimescale,
  isLatencyTuned,
  type OpenDatabaseOptions,
  openDatabase,
  pingDatabase,
  type VigilDatabase,
} from "./open-database.ts";
export { inPgTransaction } from "./pg-transaction.ts";
export {
  createPartitions,
  maintainPartitions,
  PARTITION_DAYS_AHEAD,
  type PartitionOutcome,
  partitionName,
} from "./reading-partitions.ts";
export {
  chooseStatsSource,
  RAW_STATS_MAX_SPAN_MS,
  type ReadingStatsFilter,
  type ReadingStatsOptions,
  type ReadingStatsRow,
  readingStats,
  type StatsSource,
  statsSource,
} from "./reading-stats.ts";
export { dropReadingUnit, listReadingUnits, type ReadingUnit } from "./reading-units.ts";
export {
  mergeRanges,
  type RollupRefreshOptions,
  type RollupRefreshOutcome,
  recomputeRollups,
  refreshRollups,
} from "./rollup-refresh.ts";
export type * from "./schema.ts";
export { type SchemaGaps, type SchemaWaitOptions, schemaGaps, waitForSchema } from "./schema-wait.ts";
export {
  lookupSensors,
  registerSensors,
  type SensorQuota,
  type SensorRegistration,
} from "./sensor-names.ts";
export {
  deviceConditions,
  namesDevices,
  resolveSeriesIds,
  type SeriesIds,
  type SeriesNames,
} from "./series-ids.ts";
export { nearestRank, SKETCH_RELATIVE_ACCURACY, sketchBin, sketchBinValue } from "./sketch.ts";
export { chooseStorageEngine, STORAGE_SETTING, type StorageEngine, StorageEngineError } from "./storage-engine.ts";
export {
  type FailedJob,
  failedJobs,
  listPolicyJobs,
  type PolicyJob,
  reconcilePolicies,
  refreshAggregatesNow,
  runPolicyJob,
} from "./timescale-policies.ts";

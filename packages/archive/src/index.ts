export { ARCHIVE_PREFIX, type ArchiveManifest, archiveKeys, manifestsOverlapping } from "./archive-manifest.ts";
export { type ArchiveStore, openArchiveStore } from "./archive-store.ts";
export { type ArchiveUnitOptions, type ArchiveUnitOutcome, archiveAndDropUnit } from "./archive-unit.ts";
export { type ArchivedReading, ContentDigest } from "./archived-reading.ts";
export { AUDIT_HEADS_PREFIX, exportAuditHead, parseAuditHead, readAuditHeads } from "./audit-heads.ts";
export { DirectoryStore } from "./directory-store.ts";
export { readParquetReadings } from "./parquet-readings.ts";
export { type RestoreOptions, type RestoreOutcome, restoreReadings } from "./restore-readings.ts";
export { S3Store, type S3StoreOptions } from "./s3-store.ts";

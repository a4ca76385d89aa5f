import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Database, dropReadingUnit, type Kysely, type ReadingUnit, recordAudit, sql } from "@vigil/db";
import { type ArchiveManifest, archiveKeys } from "./archive-manifest.ts";
import type { ArchiveStore } from "./archive-store.ts";
import { type ArchivedReading, ContentDigest } from "./archived-reading.ts";
import { fileDigest, ParquetReadingsWriter, readParquetReadings } from "./parquet-readings.ts";

const PAGE_ROWS = 100_000;

export interface ArchiveUnitOptions {
  timescale: boolean;
  /** Who the audit record names. */
  actor: string;
  nowMs?: number;
}

export interface ArchiveUnitOutcome {
  rows: number;
  bytes: number;
  /** Key of the Parquet file; empty when the unit had no rows (nothing to store). */
  parquetKey: string;
  manifestKey: string;
}

/**
 * Archives one chunk/partition and drops it, in one transaction: lock the
 * unit against writes, export its rows (soft-deleted ones too) to Parquet,
 * upload, download again and verify the bytes' SHA-256, the row count and
 * the rows' content digest, write the manifest, record the export and an
 * audit entry, drop the unit, commit. Any failure rolls everything back:
 * nothing is dropped unless its archive was verified.
 */
export async function archiveAndDropUnit(
  db: Kysely<Database>,
  store: ArchiveStore,
  unit: ReadingUnit,
  options: ArchiveUnitOptions,
): Promise<ArchiveUnitOutcome> {
  const dir = await mkdtemp(join(tmpdir(), "vigil-archive-"));
  try {
    return await db.transaction().execute(async (tx) => {
      // SHARE: readers go on, writers (updates, restores) wait until the drop.
      await sql`LOCK TABLE ${sql.raw(unit.relation)} IN SHARE MODE`.execute(tx);
      const exportedAtMs = options.nowMs ?? Date.now();
      const keys = archiveKeys(unit.startMs, unit.endMs, exportedAtMs);
      const local = join(dir, "export.parquet");
      const exported = await exportRows(tx, unit, local, options.timescale);
      let file = { sha256: "", bytes: 0 };
      if (exported.rows > 0) {
        file = await fileDigest(local);
        await store.putFile(keys.parquetKey, local);
        await verifyObject(store, keys.parquetKey, join(dir, "verify.parquet"), { ...file, ...exported });
      }
      const manifest: ArchiveManifest = {
        format: "vigil.readings.v1",
        rangeStart: new Date(unit.startMs).toISOString(),
        rangeEnd: new Date(unit.endMs).toISOString(),
        rows: exported.rows,
        minTime: exported.minUs === null ? null : usToIso(exported.minUs),
        maxTime: exported.maxUs === null ? null : usToIso(exported.maxUs),
        parquetKey: exported.rows > 0 ? keys.parquetKey : "",
        sha256: file.sha256,
        bytes: file.bytes,
        contentSha256: exported.contentSha256,
        source: unit.relation,
        engine: options.timescale ? "timescaledb" : "postgresql",
        exportedAt: new Date(exportedAtMs).toISOString(),
      };
      const text = `${JSON.stringify(manifest, null, 2)}\n`;
      await store.putText(keys.manifestKey, text);
      if ((await store.getText(keys.manifestKey)) !== text) {
        throw new Error(`archive manifest ${keys.manifestKey} did not read back as written`);
      }
      await sql`
        INSERT INTO archive_exports (source, range_start, range_end, object_key, rows, bytes, sha256, dropped_at)
        VALUES (${unit.relation}, ${new Date(unit.startMs)}, ${new Date(unit.endMs)}, ${keys.manifestKey},
                ${exported.rows}, ${file.bytes}, ${file.sha256}, now())`.execute(tx);
      await recordAudit(tx, {
        actor: options.actor,
        action: "readings.archive",
        target: `readings [${manifest.rangeStart}, ${manifest.rangeEnd})`,
        details: {
          store: store.location,
          manifest: keys.manifestKey,
          parquet: manifest.parquetKey,
          sha256: file.sha256,
        },
        rowsAffected: exported.rows,
      });
      await dropReadingUnit(tx, unit, options.timescale);
      return { rows: exported.rows, bytes: file.bytes, parquetKey: manifest.parquetKey, manifestKey: keys.manifestKey };
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Exported {
  rows: number;
  contentSha256: string;
  minUs: bigint | null;
  maxUs: bigint | null;
}

/**
 * Streams the unit's rows in key order through a cursor (one scan, also of
 * a compressed chunk) into the Parquet file, a row group per fetch.
 */
async function exportRows(
  tx: Kysely<Database>,
  unit: ReadingUnit,
  path: string,
  timescale: boolean,
): Promise<Exported> {
  const writer = new ParquetReadingsWriter(path, {
    "vigil.range_start": new Date(unit.startMs).toISOString(),
    "vigil.range_end": new Date(unit.endMs).toISOString(),
    "vigil.engine": timescale ? "timescaledb" : "postgresql",
  });
  const digest = new ContentDigest();
  let rows = 0;
  let minUs: bigint | null = null;
  let maxUs: bigint | null = null;
  await sql`
    DECLARE vigil_archive NO SCROLL CURSOR FOR
    SELECT ${us(sql`r.time`)} AS time_us, d.code, d.number, s.name AS sensor, r.value, r.seq::text AS seq,
           ${us(sql`r.received_at`)} AS received_us, ${us(sql`r.updated_at`)} AS updated_us,
           ${us(sql`r.deleted_at`)} AS deleted_us
    FROM readings r JOIN devices d ON d.id = r.device_id JOIN sensors s ON s.id = r.sensor_id
    WHERE r.time >= ${sql.lit(new Date(unit.startMs).toISOString())}::timestamptz
      AND r.time < ${sql.lit(new Date(unit.endMs).toISOString())}::timestamptz
    ORDER BY r.device_id, r.sensor_id, r.time`.execute(tx);
  for (;;) {
    const page = await sql<RowText>`FETCH ${sql.raw(String(PAGE_ROWS))} FROM vigil_archive`.execute(tx);
    if (page.rows.length === 0) break;
    const readings = page.rows.map(toArchived);
    await writer.write(readings);
    for (const r of readings) {
      digest.add(r);
      if (minUs === null || r.timeUs < minUs) minUs = r.timeUs;
      if (maxUs === null || r.timeUs > maxUs) maxUs = r.timeUs;
    }
    rows += readings.length;
    if (page.rows.length < PAGE_ROWS) break;
  }
  await sql`CLOSE vigil_archive`.execute(tx);
  writer.finish();
  return { rows, contentSha256: digest.hex(), minUs, maxUs };
}

interface RowText {
  time_us: string;
  code: string;
  number: number;
  sensor: string;
  value: number;
  seq: string;
  received_us: string;
  updated_us: string | null;
  deleted_us: string | null;
}

/** Microseconds since the epoch as exact decimal text (extract returns numeric). */
function us(expr: ReturnType<typeof sql>) {
  return sql`(extract(epoch FROM ${expr}) * 1000000)::bigint::text`;
}

function toArchived(r: RowText): ArchivedReading {
  return {
    timeUs: BigInt(r.time_us),
    deviceCode: r.code,
    deviceNumber: Number(r.number),
    sensor: r.sensor,
    value: Number(r.value),
    seq: BigInt(r.seq),
    receivedAtUs: BigInt(r.received_us),
    updatedAtUs: r.updated_us === null ? null : BigInt(r.updated_us),
    deletedAtUs: r.deleted_us === null ? null : BigInt(r.deleted_us),
  };
}

/** Downloads an uploaded object and checks it is exactly what was exported. */
async function verifyObject(
  store: ArchiveStore,
  key: string,
  path: string,
  want: { sha256: string; bytes: number; rows: number; contentSha256: string },
): Promise<void> {
  await store.getFile(key, path);
  const got = await fileDigest(path);
  if (got.sha256 !== want.sha256 || got.bytes !== want.bytes) {
    throw new Error(`archive ${key}: stored object differs from the export (sha256 ${got.sha256} != ${want.sha256})`);
  }
  const digest = new ContentDigest();
  let rows = 0;
  for await (const group of readParquetReadings(path)) {
    for (const r of group) digest.add(r);
    rows += group.length;
  }
  if (rows !== want.rows || digest.hex() !== want.contentSha256) {
    throw new Error(`archive ${key}: rows read back (${rows}) differ from the rows exported (${want.rows})`);
  }
}

/** Microseconds since the epoch as an ISO time with microseconds. */
export function usToIso(us: bigint): string {
  const micros = String(us % 1000n).padStart(3, "0");
  return new Date(Number(us / 1000n)).toISOString().replace("Z", `${micros}Z`);
}

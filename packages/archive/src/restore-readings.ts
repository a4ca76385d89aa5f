import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS, type Database, type Kysely, recordAudit, registerSensors, sql } from "@vigil/db";
import { ARCHIVE_PREFIX, type ArchiveManifest, manifestsOverlapping } from "./archive-manifest.ts";
import type { ArchiveStore } from "./archive-store.ts";
import type { ArchivedReading } from "./archived-reading.ts";
import { fileDigest, readParquetReadings } from "./parquet-readings.ts";

export interface RestoreOptions {
  fromMs: number;
  toMs: number;
  /** Restored rows stay (retention skips them) for this long. */
  holdMs?: number;
  actor: string;
  /** Called after each archived file is read (for a progress bar). */
  onProgress?: (progress: { filesDone: number; files: number; rows: number }) => void;
}

export interface RestoreOutcome {
  /** Manifests whose files were read. */
  files: number;
  /** Archived rows inside the range. */
  rows: number;
  /** Rows inserted (rows already in the database are left as they are). */
  inserted: number;
  holdUntil: string;
}

const INSERT_ROWS = 10_000;
const DEFAULT_HOLD_MS = 30 * DAY_MS;

/**
 * Loads archived readings with time in [fromMs, toMs) back into `readings`,
 * exactly as archived (values, seq, received/updated/deleted times),
 * creating devices and sensors that no longer exist by name. Each file is
 * checked against its manifest's SHA-256 first. Rows already present are
 * kept (ON CONFLICT DO NOTHING), so restoring twice is harmless. The range
 * is held for `holdMs` so retention does not drop it again at once, and
 * the restore is recorded in the audit log.
 */
export async function restoreReadings(
  db: Kysely<Database>,
  store: ArchiveStore,
  options: RestoreOptions,
): Promise<RestoreOutcome> {
  if (!(options.fromMs < options.toMs)) throw new RangeError("restore needs --from before --to");
  const found = manifestsOverlapping(await store.list(ARCHIVE_PREFIX), options.fromMs, options.toMs);
  // Newest export first: a range archived twice (restored, then archived
  // again) is read from its latest state; older copies only fill gaps.
  found.sort((a, b) => b.exportedAtMs - a.exportedAtMs);
  // On record before the first row goes back: rows are inserted in many statements, so a restore
  // that dies half way still leaves who started it (the closing entry says what it restored).
  await recordAudit(db, {
    actor: options.actor,
    action: "readings.restore_start",
    target: `readings [${new Date(options.fromMs).toISOString()}, ${new Date(options.toMs).toISOString()})`,
    details: { store: store.location, files: found.length },
  });
  const dir = await mkdtemp(join(tmpdir(), "vigil-restore-"));
  const outcome: RestoreOutcome = { files: 0, rows: 0, inserted: 0, holdUntil: "" };
  const fromUs = BigInt(options.fromMs) * 1000n;
  const toUs = BigInt(options.toMs) * 1000n;
  try {
    for (const { key } of found) {
      options.onProgress?.({ filesDone: outcome.files, files: found.length, rows: outcome.rows });
      const text = await store.getText(key);
      if (text === undefined) throw new Error(`archive manifest ${key} vanished while restoring`);
      const manifest = JSON.parse(text) as ArchiveManifest;
      outcome.files++;
      if (manifest.rows === 0) continue;
      const local = join(dir, "restore.parquet");
      await store.getFile(manifest.parquetKey, local);
      const digest = await fileDigest(local);
      if (digest.sha256 !== manifest.sha256) {
        throw new Error(`archive ${manifest.parquetKey} does not match its manifest's checksum: not restoring it`);
      }
      for await (const group of readParquetReadings(local)) {
        const wanted = group.filter((r) => r.timeUs >= fromUs && r.timeUs < toUs);
        for (let i = 0; i < wanted.length; i += INSERT_ROWS) {
          const part = wanted.slice(i, i + INSERT_ROWS);
          outcome.rows += part.length;
          outcome.inserted += await insertArchived(db, part);
        }
      }
    }
    options.onProgress?.({ filesDone: outcome.files, files: found.length, rows: outcome.rows });
    const holdUntil = new Date(Date.now() + (options.holdMs ?? DEFAULT_HOLD_MS));
    outcome.holdUntil = holdUntil.toISOString();
    await db.transaction().execute(async (tx) => {
      await sql`
        INSERT INTO archive_holds (range_start, range_end, hold_until)
        VALUES (${new Date(options.fromMs)}, ${new Date(options.toMs)}, ${holdUntil})`.execute(tx);
      await recordAudit(tx, {
        actor: options.actor,
        action: "readings.restore",
        target: `readings [${new Date(options.fromMs).toISOString()}, ${new Date(options.toMs).toISOString()})`,
        details: { store: store.location, files: outcome.files, rows: outcome.rows, holdUntil: outcome.holdUntil },
        rowsAffected: outcome.inserted,
      });
    });
    return outcome;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Inserts archived rows, resolving device and sensor names to ids. Returns rows inserted. */
async function insertArchived(db: Kysely<Database>, rows: ArchivedReading[]): Promise<number> {
  const devices = [...new Set(rows.map((r) => `${r.deviceCode}-${r.deviceNumber}`))];
  const sensors = [...new Set(rows.map((r) => r.sensor))];
  const codes = devices.map((d) => d.slice(0, d.lastIndexOf("-")));
  const numbers = devices.map((d) => Number(d.slice(d.lastIndexOf("-") + 1)));
  await sql`
    INSERT INTO devices (code, number) SELECT * FROM unnest(${codes}::text[], ${numbers}::int4[])
    ON CONFLICT DO NOTHING`.execute(db);
  // Looked up before inserting: an INSERT … ON CONFLICT spends an id for every name that exists.
  const registered = await registerSensors(db, sensors);
  if (!registered.ok) throw new Error(`cannot restore: ${registered.reason}`);
  const text = (v: bigint | null) => (v === null ? null : v.toString());
  const result = await sql`
    INSERT INTO readings (time, value, seq, received_at, updated_at, deleted_at, device_id, sensor_id)
    SELECT TIMESTAMPTZ 'epoch' + u.t * INTERVAL '1 microsecond', u.v, u.q,
           TIMESTAMPTZ 'epoch' + u.r * INTERVAL '1 microsecond',
           TIMESTAMPTZ 'epoch' + u.up * INTERVAL '1 microsecond',
           TIMESTAMPTZ 'epoch' + u.del * INTERVAL '1 microsecond',
           d.id, s.id
    FROM unnest(${rows.map((r) => r.timeUs.toString())}::int8[], ${rows.map((r) => r.value)}::float8[],
                ${rows.map((r) => r.seq.toString())}::int8[], ${rows.map((r) => r.receivedAtUs.toString())}::int8[],
                ${rows.map((r) => text(r.updatedAtUs))}::int8[], ${rows.map((r) => text(r.deletedAtUs))}::int8[],
                ${rows.map((r) => r.deviceCode)}::text[], ${rows.map((r) => r.deviceNumber)}::int4[],
                ${rows.map((r) => r.sensor)}::text[])
      AS u(t, v, q, r, up, del, code, number, sensor)
    JOIN devices d ON d.code = u.code AND d.number = u.number
    JOIN sensors s ON s.name = u.sensor
    WHERE true -- ends the join clause before ON CONFLICT
    ON CONFLICT DO NOTHING`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

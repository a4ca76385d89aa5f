/** The JSON document stored beside each archived Parquet file. */
export interface ArchiveManifest {
  format: "vigil.readings.v1";
  /** Range of the chunk/partition the file holds: [rangeStart, rangeEnd). */
  rangeStart: string;
  rangeEnd: string;
  rows: number;
  /** Oldest and newest reading time in the file (null when empty). */
  minTime: string | null;
  maxTime: string | null;
  /** Key of the Parquet file, relative to the store's root. */
  parquetKey: string;
  /** SHA-256 of the Parquet file's bytes. */
  sha256: string;
  bytes: number;
  /** SHA-256 of the rows themselves (see ContentDigest), independent of the encoding. */
  contentSha256: string;
  /** The chunk or partition it came from, and the engine. */
  source: string;
  engine: "timescaledb" | "postgresql";
  exportedAt: string;
}

const PREFIX = "readings/";
const MANIFEST_SUFFIX = ".manifest.json";

/** Compact UTC time for keys: 20250103T000000Z. */
function compact(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

function parseCompact(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * Keys of one export: `readings/YYYY/MM/DD/readings_<start>_<end>_<exported>.parquet`
 * and `.manifest.json`. The export time makes every key new: an archive is
 * never overwritten (a range restored and archived again gets a second file).
 */
export function archiveKeys(startMs: number, endMs: number, exportedAtMs: number) {
  const day = new Date(startMs).toISOString().slice(0, 10).replaceAll("-", "/");
  const base = `${PREFIX}${day}/readings_${compact(startMs)}_${compact(endMs)}_${compact(exportedAtMs)}`;
  return { parquetKey: `${base}.parquet`, manifestKey: `${base}${MANIFEST_SUFFIX}` };
}

/** Every manifest key in a listing whose range overlaps [fromMs, toMs), with its range. */
export function manifestsOverlapping(keys: string[], fromMs: number, toMs: number) {
  const out: Array<{ key: string; startMs: number; endMs: number; exportedAtMs: number }> = [];
  for (const key of keys) {
    if (!key.startsWith(PREFIX) || !key.endsWith(MANIFEST_SUFFIX)) continue;
    const m = /readings_(\w+)_(\w+)_(\w+)\.manifest\.json$/.exec(key);
    if (!m) continue;
    const startMs = parseCompact(m[1]!);
    const endMs = parseCompact(m[2]!);
    if (startMs < toMs && endMs > fromMs) out.push({ key, startMs, endMs, exportedAtMs: parseCompact(m[3]!) });
  }
  return out;
}

/** The prefix under which all readings archives live. */
export const ARCHIVE_PREFIX = PREFIX;

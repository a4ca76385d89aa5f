import type { DecodedDelivery } from "./reading-rows.ts";

/** The columns of `readings` a COPY fills, in the order rows are encoded. */
export const COPY_COLUMNS = "time, value, seq, received_at, device_id, sensor_id, source_id";
/** The same without provenance (source_id): the encoding before migration 0018, kept for the paired benchmark. */
export const COPY_COLUMNS_WITHOUT_SOURCE = "time, value, seq, received_at, device_id, sensor_id";

/** Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC). */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_POW_32 = 2 ** 32;
const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]; // PGCOPY\n\377\r\n\0
/** Signature, flags and header extension length, at the start of a COPY stream. */
export const COPY_HEADER_BYTES = SIGNATURE.length + 4 + 4;
/** The int16 -1 that ends a COPY stream. */
export const COPY_TRAILER_BYTES = 2;
/**
 * Field count, then length + value of time, value, seq, received_at (8
 * bytes each), device_id and sensor_id (4 each)…
 */
const ROW_BYTES_WITHOUT_SOURCE = 2 + 4 * (4 + 8) + 2 * (4 + 4);
/** …and source_id (4 bytes, or a length of -1 for NULL and no value). */
const SOURCE_BYTES = 4 + 4;

export interface CopyRows {
  rows: number;
  /** One `COPY … FROM STDIN (FORMAT binary)` stream: header, rows, trailer. */
  data: Buffer;
}

/**
 * The readings of many batches in PostgreSQL's binary COPY format, written
 * straight from the Float64Arrays into one buffer: no string or object per
 * reading in Node, and no text to parse in PostgreSQL (the unnest INSERT
 * spent most of its time in both).
 */
export function toCopyRows(
  deliveries: DecodedDelivery[],
  sensorIds: Map<string, number>,
  options: { withSource: boolean } = { withSource: true },
): CopyRows {
  const withSource = options.withSource;
  const fields = withSource ? 7 : 6;
  let rows = 0;
  let nullSources = 0;
  for (const d of deliveries) {
    for (const s of d.batch.series) {
      rows += s.values.length;
      if (d.sourceId === null) nullSources += s.values.length;
    }
  }
  const size = rows * (ROW_BYTES_WITHOUT_SOURCE + (withSource ? SOURCE_BYTES : 0)) - (withSource ? nullSources * 4 : 0);
  const data = Buffer.allocUnsafe(COPY_HEADER_BYTES + size + COPY_TRAILER_BYTES);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  data.set(SIGNATURE, 0);
  view.setInt32(SIGNATURE.length, 0); // flags: no OIDs
  view.setInt32(SIGNATURE.length + 4, 0); // no header extension
  let at = COPY_HEADER_BYTES;
  for (const d of deliveries) {
    const receivedUs = toPgMicros(d.storedAtMs);
    const sourceId = d.sourceId;
    for (const s of d.batch.series) {
      const n = s.values.length;
      if (n === 0) continue;
      const sensorId = sensorIds.get(s.sensor);
      if (sensorId === undefined) throw new Error(`sensor ${s.sensor} has no id`);
      for (let i = 0; i < n; i++) {
        view.setInt16(at, fields);
        view.setInt32(at + 2, 8);
        setInt64(view, at + 6, toPgMicros(s.times[i]!));
        view.setInt32(at + 14, 8);
        view.setFloat64(at + 18, s.values[i]!);
        view.setInt32(at + 26, 8);
        setInt64(view, at + 30, d.batch.seq);
        view.setInt32(at + 38, 8);
        setInt64(view, at + 42, receivedUs);
        view.setInt32(at + 50, 4);
        view.setInt32(at + 54, d.deviceId);
        view.setInt32(at + 58, 4);
        view.setInt32(at + 62, sensorId);
        at += ROW_BYTES_WITHOUT_SOURCE;
        if (!withSource) continue;
        if (sourceId === null) {
          view.setInt32(at, -1);
          at += 4;
        } else {
          view.setInt32(at, 4);
          view.setInt32(at + 4, sourceId);
          at += SOURCE_BYTES;
        }
      }
    }
  }
  view.setInt16(at, -1); // trailer
  return { rows, data };
}

/** Milliseconds since the Unix epoch as whole microseconds since 2000-01-01 (timestamptz's binary form). */
function toPgMicros(ms: number): number {
  return Math.round((ms - PG_EPOCH_MS) * 1000);
}

/**
 * A big-endian int64 from a JS integer (exact below 2^53) as two int32
 * halves: setBigInt64 would need a BigInt per value.
 */
function setInt64(view: DataView, at: number, v: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  view.setInt32(at, hi);
  view.setUint32(at + 4, v - hi * TWO_POW_32);
}

import { createHash, type Hash } from "node:crypto";

/**
 * A reading as the archive keeps it: self-describing (device and sensor by
 * name, not by this database's ids), every timestamp in microseconds since
 * the epoch (PostgreSQL's precision), soft-deleted rows included.
 */
export interface ArchivedReading {
  timeUs: bigint;
  deviceCode: string;
  deviceNumber: number;
  sensor: string;
  value: number;
  seq: bigint;
  receivedAtUs: bigint;
  updatedAtUs: bigint | null;
  deletedAtUs: bigint | null;
}

/** Parquet columns in file order; timestamps are TIMESTAMP(MICROS, UTC). */
export const ARCHIVE_COLUMNS = [
  "time",
  "device_code",
  "device_number",
  "sensor",
  "value",
  "seq",
  "received_at",
  "updated_at",
  "deleted_at",
] as const;

/**
 * A digest of rows in file order, independent of the file's encoding: the
 * export computes it from the database rows, verification from the rows
 * parsed back out of the uploaded object. Values by their IEEE-754 bits.
 */
export class ContentDigest {
  private readonly hash: Hash = createHash("sha256");
  private readonly bits = new DataView(new ArrayBuffer(8));

  add(r: ArchivedReading): void {
    this.bits.setFloat64(0, r.value);
    const value = this.bits.getBigUint64(0).toString(16);
    this.hash.update(
      `${r.timeUs}|${r.deviceCode}|${r.deviceNumber}|${r.sensor}|${value}|${r.seq}|${r.receivedAtUs}|${r.updatedAtUs ?? ""}|${r.deletedAtUs ?? ""}\n`,
    );
  }

  hex(): string {
    return this.hash.digest("hex");
  }
}

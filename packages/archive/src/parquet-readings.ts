import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { SchemaElement } from "hyparquet";
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead } from "hyparquet";
import { fileWriter, ParquetWriter } from "hyparquet-writer";
import type { ArchivedReading } from "./archived-reading.ts";

const timestamp = (name: string, required: boolean): SchemaElement => ({
  name,
  type: "INT64",
  repetition_type: required ? "REQUIRED" : "OPTIONAL",
  converted_type: "TIMESTAMP_MICROS",
  logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
});

/** The archive's Parquet schema: readable by any Parquet tool (DuckDB, Spark, pandas). */
const SCHEMA: SchemaElement[] = [
  { name: "root", num_children: 9 },
  timestamp("time", true),
  { name: "device_code", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
  { name: "device_number", type: "INT32", repetition_type: "REQUIRED" },
  { name: "sensor", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
  { name: "value", type: "DOUBLE", repetition_type: "REQUIRED" },
  { name: "seq", type: "INT64", repetition_type: "REQUIRED" },
  timestamp("received_at", true),
  timestamp("updated_at", false),
  timestamp("deleted_at", false),
];

/**
 * Streams readings into a Parquet file, one row group per `write` call
 * (the exporter passes pages of up to 100,000 rows), so memory stays bounded
 * by a page however large the chunk.
 */
export class ParquetReadingsWriter {
  private readonly writer: ParquetWriter;

  constructor(path: string, metadata: Record<string, string>) {
    this.writer = new ParquetWriter({
      writer: fileWriter(path),
      schema: SCHEMA,
      codec: "SNAPPY",
      kvMetadata: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      createdBy: "vigil archive",
    });
  }

  async write(rows: ArchivedReading[]): Promise<void> {
    if (rows.length === 0) return;
    await this.writer.write({
      rowGroupSize: rows.length,
      columnData: [
        { name: "time", data: rows.map((r) => r.timeUs) },
        { name: "device_code", data: rows.map((r) => r.deviceCode) },
        { name: "device_number", data: Int32Array.from(rows, (r) => r.deviceNumber) },
        { name: "sensor", data: rows.map((r) => r.sensor) },
        // Byte-stream split: sensor values compress far better split by byte.
        { name: "value", data: Float64Array.from(rows, (r) => r.value), encoding: "BYTE_STREAM_SPLIT" },
        { name: "seq", data: rows.map((r) => r.seq) },
        { name: "received_at", data: rows.map((r) => r.receivedAtUs) },
        { name: "updated_at", data: rows.map((r) => r.updatedAtUs) },
        { name: "deleted_at", data: rows.map((r) => r.deletedAtUs) },
      ],
    });
  }

  finish(): void {
    this.writer.finish();
  }
}

/** Reads a readings Parquet file row group by row group. */
export async function* readParquetReadings(path: string): AsyncGenerator<ArchivedReading[]> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: unknown[][] = [];
    await parquetRead({
      file,
      metadata,
      rowStart,
      rowEnd,
      // Keep microseconds: the default parser would round them to a Date.
      parsers: { timestampFromMicroseconds: (us: bigint) => us },
      onComplete: (r) => {
        rows = r;
      },
    });
    rowStart = rowEnd;
    yield rows.map((r) => ({
      timeUs: r[0] as bigint,
      deviceCode: r[1] as string,
      deviceNumber: Number(r[2]),
      sensor: r[3] as string,
      value: Number(r[4]),
      seq: BigInt(r[5] as bigint),
      receivedAtUs: r[6] as bigint,
      updatedAtUs: (r[7] as bigint | null | undefined) ?? null,
      deletedAtUs: (r[8] as bigint | null | undefined) ?? null,
    }));
  }
}

/** SHA-256 and size of a file, streamed. */
export async function fileDigest(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

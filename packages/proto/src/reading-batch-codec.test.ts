import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ReadingBatchSchema, StreamRequestSchema } from "./gen/vigil/ingest/v1/ingest_pb.ts";
import {
  type ColumnarBatch,
  DecodeError,
  decodeReadingBatch,
  encodeBatchStreamRequest,
  encodeReadingBatch,
} from "./reading-batch-codec.ts";

function sample(): ColumnarBatch {
  const base = 1_767_225_600_000; // 2026-01-01
  return {
    seq: 2 ** 40 + 3,
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    series: [
      {
        sensor: "heart_rate_bpm",
        times: Float64Array.from([base, base + 1000, base + 2000]),
        values: Float64Array.from([72, 72.5, -0]),
      },
      { sensor: "joint.angle_deg", times: Float64Array.from([base + 7]), values: Float64Array.from([1e-300]) },
      { sensor: "t", times: Float64Array.from([0, 127, 128, 2 ** 53 - 1]), values: Float64Array.from([1, 2, 3, 4]) },
    ],
  };
}

function viaProtobufEs(batch: ColumnarBatch) {
  return create(ReadingBatchSchema, {
    seq: BigInt(batch.seq),
    traceparent: batch.traceparent ?? "",
    series: batch.series.map((s) => ({
      sensor: s.sensor,
      timeUnixMs: Array.from(s.times, BigInt),
      values: Array.from(s.values),
    })),
  });
}

describe("reading batch codec", () => {
  it("encodes exactly the bytes protobuf-es encodes", () => {
    const batch = sample();
    expect(Buffer.from(encodeReadingBatch(batch))).toEqual(
      Buffer.from(toBinary(ReadingBatchSchema, viaProtobufEs(batch))),
    );
  });

  it("decodes what protobuf-es encodes, into Float64Arrays", () => {
    const batch = sample();
    const decoded = decodeReadingBatch(toBinary(ReadingBatchSchema, viaProtobufEs(batch)));
    expect(decoded).toEqual(batch);
    expect(decoded.series[0]?.times).toBeInstanceOf(Float64Array);
  });

  it("accepts unpacked repeated fields, as a proto3 parser must", () => {
    // series { sensor: "a", time_unix_ms: 5 (unpacked), values: 2.5 (unpacked) }
    const value = new Uint8Array(new Float64Array([2.5]).buffer);
    const series = [0x0a, 1, 0x61, 0x10, 5, 0x19, ...value];
    const bytes = new Uint8Array([0x08, 1, 0x12, series.length, ...series]);
    expect(decodeReadingBatch(bytes)).toEqual({
      seq: 1,
      series: [{ sensor: "a", times: Float64Array.from([5]), values: Float64Array.from([2.5]) }],
    });
  });

  it("wraps a batch as a StreamRequest that protobuf-es reads back", () => {
    const request = fromBinary(StreamRequestSchema, encodeBatchStreamRequest(sample()));
    expect(request.kind.case).toBe("batch");
    expect(request.kind.value && "seq" in request.kind.value ? request.kind.value.seq : 0n).toBe(BigInt(2 ** 40 + 3));
  });

  it("rejects truncated and malformed bytes with DecodeError", () => {
    const bytes = encodeReadingBatch(sample());
    expect(() => decodeReadingBatch(bytes.subarray(0, bytes.length - 3))).toThrow(DecodeError);
    expect(() => decodeReadingBatch(new Uint8Array([0x12, 0x03, 0x1a, 0x03, 1]))).toThrow(DecodeError);
    expect(() => decodeReadingBatch(new Uint8Array([0x0f]))).toThrow(DecodeError);
  });
});

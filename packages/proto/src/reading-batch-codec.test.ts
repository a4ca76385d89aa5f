import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { sampleBatchBytes } from "./batch-samples.ts";
import { ReadingBatchSchema, StreamRequestSchema } from "./gen/vigil/ingest/v1/ingest_pb.ts";
import {
  type ColumnarBatch,
  DecodeError,
  DecodeLimitError,
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

/** A varint's bytes. */
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A length-delimited field. */
function field(tag: number, body: number[]): number[] {
  return [...varint((tag << 3) | 2), ...varint(body.length), ...body];
}

/**
 * The fastest of `runs` decodes, in ms of this process's CPU time: on a
 * machine shared with other work, wall time measures the neighbours too.
 */
function fastestDecode(bytes: Uint8Array, runs = 5, repeat = 1): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const started = process.cpuUsage();
    for (let j = 0; j < repeat; j++) decodeReadingBatch(bytes);
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / 1000 / repeat);
  }
  return best;
}

// Timing tests on a shared, busy machine: generous time limits, and the fastest of several runs.
describe("item 2: batch decoding is linear in the message size", { timeout: 60_000 }, () => {
  it("item 2: a 4 MiB message with one packed chunk per reading decodes in well under 100 ms", () => {
    const bytes = sampleBatchBytes({ bytes: 4 * 1024 * 1024, encoding: "chunked" });
    const batch = decodeReadingBatch(bytes);
    const n = batch.series[0]!.times.length;
    expect(n).toBeGreaterThan(200_000);
    expect(batch.series[0]!.values.length).toBe(n);
    expect(batch.series[0]!.times[n - 1]).toBe(1_767_225_600_000 + (n - 1) * 1000);
    // Quadratic joining took 8.6 s for 96 KB; CPU time, the fastest of five runs.
    expect(fastestDecode(bytes)).toBeLessThan(100);
  });

  it("item 2: decode time per byte stays flat from 64 KiB to 4 MiB in every encoding", () => {
    for (const encoding of ["packed", "unpacked", "chunked"] as const) {
      const small = sampleBatchBytes({ bytes: 64 * 1024, encoding });
      const large = sampleBatchBytes({ bytes: 4 * 1024 * 1024, encoding });
      // Many decodes per measurement: one of 64 KiB is a fraction of a millisecond.
      const perByteSmall = fastestDecode(small, 5, 32) / small.length;
      const perByteLarge = fastestDecode(large) / large.length;
      // Linear: the same per byte (within noise and cache effects); quadratic was 64 times more.
      expect(perByteLarge, encoding).toBeLessThan(perByteSmall * 6);
    }
  });

  it("item 2: unpacked and mixed encodings give the same columns as packed", () => {
    const times = [5, 6, 7, 8];
    const values = [0.5, 1.5, 2.5, 3.5];
    const dbl = (v: number) => [...new Uint8Array(new Float64Array([v]).buffer)];
    const series = [
      ...field(1, [0x61]),
      ...field(2, [...varint(times[0]!), ...varint(times[1]!)]),
      0x10,
      ...varint(times[2]!),
      0x19,
      ...dbl(values[0]!),
      ...field(3, [...dbl(values[1]!), ...dbl(values[2]!)]),
      0x10,
      ...varint(times[3]!),
      0x19,
      ...dbl(values[3]!),
    ];
    const bytes = new Uint8Array([0x08, 1, ...field(2, series)]);
    expect(decodeReadingBatch(bytes)).toEqual({
      seq: 1,
      series: [{ sensor: "a", times: Float64Array.from(times), values: Float64Array.from(values) }],
    });
    for (const encoding of ["packed", "unpacked", "chunked"] as const) {
      const decoded = decodeReadingBatch(sampleBatchBytes({ bytes: 4096, encoding, series: 3 }));
      expect(
        decoded.series.map((s) => s.sensor),
        encoding,
      ).toEqual(["s0", "s1", "s2"]);
      expect(decoded.series[2]!.values[3], encoding).toBe(20.3);
    }
  });

  it("item 2: caps series per batch and readings per series with DecodeLimitError", () => {
    const many = new Uint8Array(2 * 1001);
    for (let i = 0; i < 1001; i++) many.set([0x12, 0x00], i * 2);
    expect(() => decodeReadingBatch(many, { maxSeries: 1000, maxSeriesValues: 10 })).toThrow(DecodeLimitError);
    expect(decodeReadingBatch(many.subarray(0, 2000), { maxSeries: 1000, maxSeriesValues: 10 }).series).toHaveLength(
      1000,
    );
    // A column filled one number at a time starts with room for several, never past the cap.
    const fourUnpacked = sampleBatchBytes({ bytes: 4096, encoding: "unpacked", series: 1 });
    const readings = decodeReadingBatch(fourUnpacked).series[0]!.times.length;
    expect(decodeReadingBatch(fourUnpacked, { maxSeries: 1, maxSeriesValues: readings }).series[0]!.times).toHaveLength(
      readings,
    );
    expect(() => decodeReadingBatch(fourUnpacked, { maxSeries: 1, maxSeriesValues: readings - 1 })).toThrow(
      DecodeLimitError,
    );
    expect(() => decodeReadingBatch(fourUnpacked, { maxSeries: 1, maxSeriesValues: 3 })).toThrow(DecodeLimitError);
    for (const encoding of ["packed", "unpacked", "chunked"] as const) {
      const long = sampleBatchBytes({ bytes: 64 * 1024, encoding });
      try {
        decodeReadingBatch(long, { maxSeries: 10, maxSeriesValues: 100 });
        expect.unreachable();
      } catch (err) {
        expect(err, encoding).toBeInstanceOf(DecodeLimitError);
        expect((err as DecodeLimitError).limit).toBe("series_values");
        expect((err as Error).message).toMatch(/more than 100 times/);
      }
    }
  });
});

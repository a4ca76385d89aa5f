import { create, toBinary } from "@bufbuild/protobuf";
import { encodeBatchStreamRequest, encodeReadingBatch, RejectCode, StreamRequestSchema } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { decodeStreamRequest } from "./stream-request-codec.ts";

describe("decodeStreamRequest", () => {
  it("keeps the batch bytes exactly as the device encoded them", () => {
    const batch = {
      seq: 9,
      series: [{ sensor: "a", times: Float64Array.from([1, 2]), values: Float64Array.from([0.5, 1.5]) }],
    };
    const decoded = decodeStreamRequest(encodeBatchStreamRequest(batch));
    expect(decoded.kind).toBe("batch");
    if (decoded.kind !== "batch") return;
    expect(decoded.batch.seq).toBe(9);
    expect(decoded.batch.series[0]?.values).toEqual(Float64Array.from([0.5, 1.5]));
    expect(Buffer.from(decoded.bytes)).toEqual(Buffer.from(encodeReadingBatch(batch)));
  });

  it("decodes hello and an empty message", () => {
    const hello = toBinary(
      StreamRequestSchema,
      create(StreamRequestSchema, { kind: { case: "hello", value: { client: "x" } } }),
    );
    expect(decodeStreamRequest(hello)).toMatchObject({ kind: "hello", hello: { client: "x" } });
    expect(decodeStreamRequest(new Uint8Array())).toEqual({ kind: "empty" });
  });

  it("turns garbage into a malformed request instead of throwing", () => {
    const garbage = new Uint8Array([0x12, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]);
    expect(decodeStreamRequest(garbage)).toMatchObject({ kind: "malformed" });
    expect(decodeStreamRequest(new Uint8Array([0xff]))).toMatchObject({ kind: "malformed" });
  });
});

describe("decodeStreamRequest with limits", () => {
  it("item 3: refuses a batch with too many series or readings while decoding, naming the seq", () => {
    const series = Array.from({ length: 5 }, (_, i) => ({
      sensor: `s${i}`,
      times: Float64Array.from([1, 2, 3]),
      values: Float64Array.from([1, 2, 3]),
    }));
    const bytes = encodeBatchStreamRequest({ seq: 42, series });
    expect(decodeStreamRequest(bytes, { maxSeries: 4, maxSeriesValues: 100 })).toMatchObject({
      kind: "over_limit",
      seq: 42,
      code: RejectCode.TOO_MANY_SERIES,
    });
    expect(decodeStreamRequest(bytes, { maxSeries: 5, maxSeriesValues: 2 })).toMatchObject({
      kind: "over_limit",
      seq: 42,
      code: RejectCode.TOO_LARGE,
    });
    expect(decodeStreamRequest(bytes, { maxSeries: 5, maxSeriesValues: 3 }).kind).toBe("batch");
  });
});

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetStatsRequestSchema, UpdateReadingsRequestSchema, WatchReadingsRequestSchema } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { parseStatsRequest, parseUpdateRequest, parseWatchRequest } from "./reading-requests.ts";

describe("reading requests", () => {
  it("an update needs a filter and a change, each error naming its field", () => {
    const window = { nowMs: 10_000, maxAgeMs: 10_000, maxFutureSkewMs: 1_000 };
    const update = (init: Parameters<typeof create<typeof UpdateReadingsRequestSchema>>[1]) => () =>
      parseUpdateRequest(create(UpdateReadingsRequestSchema, init), window);
    expect(update({ changes: { value: 1 } })).toThrow(/^filter: set at least one field/);
    expect(update({ filter: { deviceCode: "OR" } })).toThrow(/^changes: set at least one of/);
    expect(update({ filter: { deviceCode: "OR" }, changes: { sensor: "Bad Name" } })).toThrow(/^changes.sensor/);
    expect(update({ filter: { deviceCode: "OR" }, changes: { value: Number.NaN } })).toThrow(/^changes.value/);
    expect(
      update({ filter: { startTime: timestampFromMs(2), endTime: timestampFromMs(1) }, changes: { value: 1 } }),
    ).toThrow(/^filter.start_time: must not be after end_time/);
    expect(
      parseUpdateRequest(
        create(UpdateReadingsRequestSchema, {
          filter: { sensor: "a" },
          changes: { value: 2, time: { seconds: 1n, nanos: 500_900_000 } },
        }),
        window,
      ),
    ).toEqual({ filter: { sensor: "a" }, changes: { value: 2, timeMs: 1500 } });
    // A reading cannot be moved past retention or into the future beyond the allowed skew.
    const at = (seconds: bigint) => update({ filter: { sensor: "a" }, changes: { time: { seconds, nanos: 0 } } });
    expect(at(12n)).toThrow(/^changes.time: must be between/);
    expect(at(253_402_214_400n)).toThrow(/^changes.time/);
    expect(at(11n)).not.toThrow();
  });

  it("stats default to the last day and bound the number of buckets", () => {
    const now = 10 * 86_400_000;
    expect(parseStatsRequest(create(GetStatsRequestSchema, { bucket: "1h" }), now)).toEqual({
      filter: { startMs: now - 86_400_000, endMs: now },
      bucketMs: 3_600_000,
    });
    expect(() => parseStatsRequest(create(GetStatsRequestSchema, { bucket: "1x" }), now)).toThrow(/^bucket/);
    expect(() => parseStatsRequest(create(GetStatsRequestSchema, { bucket: "1s" }), now)).toThrow(/86400 buckets/);
  });

  it("a watch has no time range", () => {
    expect(() =>
      parseWatchRequest(create(WatchReadingsRequestSchema, { filter: { startTime: timestampFromMs(1) } })),
    ).toThrow(/^filter.start_time: must be unset/);
  });
});

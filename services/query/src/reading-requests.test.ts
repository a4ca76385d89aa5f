import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { GetStatsRequestSchema, UpdateReadingsRequestSchema, WatchReadingsRequestSchema } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { parseStatsRequest, parseUpdateRequest, parseWatchRequest } from "./reading-requests.ts";

describe("reading requests", () => {
  it("item 4: an update names one device and a time range, and a change; each error names its field", () => {
    const range = { deviceCode: "OR", deviceNumber: 1, startTime: timestampFromMs(0), endTime: timestampFromMs(10) };
    // Stored readings may be from 0 (retention) to 11 s (clock skew) on this clock.
    const window = { nowMs: 10_000, maxAgeMs: 10_000, maxFutureSkewMs: 1_000 };
    const update = (init: Parameters<typeof create<typeof UpdateReadingsRequestSchema>>[1]) => () =>
      parseUpdateRequest(create(UpdateReadingsRequestSchema, init), window);
    expect(update({ changes: { value: 1 } })).toThrow(/^filter.device_code: a correction names one device/);
    // A trivial field no longer passes for a filter (the old guard's bypass).
    expect(update({ filter: { startTime: timestampFromMs(0) }, changes: { value: 1 } })).toThrow(/^filter.device_code/);
    expect(update({ filter: { deviceCode: "OR" }, changes: { value: 1 } })).toThrow(/^filter.device_number/);
    expect(update({ filter: { deviceCode: "OR", deviceNumber: 1 }, changes: { value: 1 } })).toThrow(
      /^filter.start_time: a correction names a time range/,
    );
    expect(update({ filter: range })).toThrow(/^changes: set at least one of/);
    // Device metadata would be ignored by a one-device correction: refused, not dropped.
    expect(update({ filter: { ...range, site: "st-mary" }, changes: { value: 1 } })).toThrow(
      /^filter.site: a correction/,
    );
    expect(update({ filter: { ...range, deviceKind: "robot" }, changes: { value: 1 } })).toThrow(/^filter.device_kind/);
    expect(update({ filter: { ...range, deviceLabels: { a: "b" } }, changes: { value: 1 } })).toThrow(
      /^filter.device_labels/,
    );
    expect(update({ filter: range, changes: { sensor: "Bad Name" } })).toThrow(/^changes.sensor/);
    expect(update({ filter: range, changes: { value: Number.NaN } })).toThrow(/^changes.value/);
    expect(update({ filter: range, changes: { time: timestampFromMs(11_001) } })).toThrow(/^changes.time/);
    expect(update({ filter: range, changes: { value: 1 }, reason: "x".repeat(501) })).toThrow(/^reason/);
    expect(
      update({
        filter: { ...range, startTime: timestampFromMs(2), endTime: timestampFromMs(1) },
        changes: { value: 1 },
      }),
    ).toThrow(/^filter.start_time: must not be after end_time/);
    expect(
      parseUpdateRequest(
        create(UpdateReadingsRequestSchema, {
          filter: { ...range, sensor: "a" },
          changes: { value: 2, time: { seconds: 1n, nanos: 500_900_000 } },
          reason: "probe miscalibrated",
        }),
        window,
      ),
    ).toEqual({
      scope: { deviceCode: "OR", deviceNumber: 1, sensor: "a", startMs: 0, endMs: 10 },
      changes: { value: 2, timeMs: 1500 },
      reason: "probe miscalibrated",
    });
    // A reading cannot be moved past retention or into the future beyond the allowed skew.
    const at = (seconds: bigint) => update({ filter: range, changes: { time: { seconds, nanos: 0 } } });
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

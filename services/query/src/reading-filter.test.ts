import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ReadingFilterSchema } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.ts";
import { isEmptyFilter, parseReadingFilter } from "./reading-filter.ts";

describe("parseReadingFilter", () => {
  it("keeps the fields that are set", () => {
    const filter = parseReadingFilter(
      create(ReadingFilterSchema, {
        deviceCode: "OR",
        deviceNumber: 7,
        sensor: "heart_rate_bpm",
        startTime: timestampFromMs(1000),
        endTime: timestampFromMs(2000),
      }),
    );
    expect(filter).toEqual({ deviceCode: "OR", deviceNumber: 7, sensor: "heart_rate_bpm", startMs: 1000, endMs: 2000 });
    expect(isEmptyFilter(parseReadingFilter(undefined))).toBe(true);
  });

  it("names the field that is wrong", () => {
    const bad = (init: Parameters<typeof create<typeof ReadingFilterSchema>>[1]) => () =>
      parseReadingFilter(create(ReadingFilterSchema, init));
    expect(bad({ deviceCode: "or'; DROP TABLE readings;--" })).toThrow(/filter.device_code/);
    expect(bad({ deviceNumber: 0 })).toThrow(/filter.device_number/);
    expect(bad({ sensor: "x' OR 1=1" })).toThrow(/filter.sensor/);
    // Control characters (NUL above all, which cannot be stored in the access log) are refused up front.
    expect(bad({ site: "theatre\u0000" })).toThrow(/filter.site: must not contain control characters/);
    expect(bad({ deviceLabels: { team: "a\nb" } })).toThrow(/control characters/);
    expect(bad({ deviceKind: "robot\ud800" })).toThrow(/filter.device_kind: must be valid Unicode/);
    expect(bad({ startTime: timestampFromMs(2000), endTime: timestampFromMs(1000) })).toThrow(
      new InvalidArgumentError("filter.start_time", "must not be after end_time"),
    );
  });
});

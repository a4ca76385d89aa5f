import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./lifecycle-settings.ts";
import { chooseStatsSource } from "./reading-stats.ts";
import { mergeRanges } from "./rollup-refresh.ts";

describe("chooseStatsSource", () => {
  const now = 1_800_000_000_000;
  it("reads raw rows for narrow ranges and for buckets that are not whole minutes", () => {
    expect(chooseStatsSource({ startMs: now - 6 * HOUR_MS, endMs: now }, MINUTE_MS, now)).toBe("raw");
    expect(chooseStatsSource({ startMs: now - 30 * DAY_MS, endMs: now }, 90_000 + 1, now)).toBe("raw");
  });
  it("uses the 1-hour aggregates for ranges over a week with whole-hour buckets, else the 1-minute ones", () => {
    expect(chooseStatsSource({ startMs: now - 8 * DAY_MS, endMs: now }, HOUR_MS, now)).toBe("1h");
    expect(chooseStatsSource({}, DAY_MS, now)).toBe("1h");
    expect(chooseStatsSource({ startMs: now - 8 * DAY_MS, endMs: now }, 30 * MINUTE_MS, now)).toBe("1m");
    expect(chooseStatsSource({ startMs: now - 2 * DAY_MS, endMs: now }, HOUR_MS, now)).toBe("1m");
    expect(chooseStatsSource({ startMs: now - 2 * DAY_MS }, HOUR_MS, now)).toBe("1m");
  });
});

describe("mergeRanges", () => {
  it("sorts, merges overlapping and touching ranges, and drops empty ones", () => {
    expect(
      mergeRanges([
        [5, 7],
        [1, 3],
        [3, 4],
        [6, 9],
        [10, 10],
      ]),
    ).toEqual([
      [1, 4],
      [5, 9],
    ]);
  });
});

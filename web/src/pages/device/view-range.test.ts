import { describe, expect, it } from "vitest";
import {
  bucketText,
  chooseBucketMs,
  chooseSource,
  MAX_SPAN_MS,
  MIN_SPAN_MS,
  rangeOf,
  zoomBy,
  zoomTo,
} from "./view-range.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe("chooseBucketMs", () => {
  it("gives about 600 points whatever the span, at least a second wide", () => {
    expect(chooseBucketMs(5 * MIN)).toBe(1_000);
    expect(chooseBucketMs(HOUR)).toBe(10_000);
    expect(chooseBucketMs(DAY)).toBe(5 * MIN);
    expect(chooseBucketMs(7 * DAY)).toBe(30 * MIN);
    for (const span of [30_000, 5 * MIN, HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY, MAX_SPAN_MS]) {
      const b = chooseBucketMs(span);
      expect(span / b, `${span}`).toBeLessThanOrEqual(600);
      expect(span / b).toBeLessThan(10_000); // the API's limit
      expect(b % 1_000).toBe(0);
    }
  });

  it("uses whole hours past a week, so the API reads its hourly aggregates", () => {
    for (const span of [8 * DAY, 30 * DAY, 90 * DAY, 365 * DAY]) expect(chooseBucketMs(span) % HOUR).toBe(0);
    expect(chooseBucketMs(30 * DAY)).toBe(2 * HOUR);
  });

  it("speaks the API's bucket syntax", () => {
    expect(bucketText(1_000)).toBe("1s");
    expect(bucketText(2 * HOUR)).toBe("7200s");
  });
});

describe("chooseSource", () => {
  it("draws every reading while there are few, aggregates past 2,500 per sensor or 25,000 in all", () => {
    expect(chooseSource([])).toBe("raw");
    expect(chooseSource([2_500, 2_500])).toBe("raw");
    expect(chooseSource([2_501])).toBe("buckets");
    expect(chooseSource(Array(11).fill(2_400))).toBe("buckets");
  });
});

describe("zoom", () => {
  const now = 1_800_000_000_000;

  it("a range reaching now becomes live; an older one stays fixed", () => {
    expect(zoomTo(now - HOUR, now, now)).toEqual({ live: true, spanMs: HOUR });
    expect(zoomTo(now - 2 * DAY, now - DAY, now)).toEqual({ live: false, startMs: now - 2 * DAY, endMs: now - DAY });
  });

  it("keeps spans between 30 seconds and two years", () => {
    const tiny = zoomTo(now - DAY, now - DAY + 10, now);
    expect(tiny.live).toBe(false);
    const r = rangeOf(tiny, now);
    expect(r.endMs - r.startMs).toBe(MIN_SPAN_MS);
    expect(zoomBy({ live: true, spanMs: 365 * DAY }, 4, now)).toEqual({ live: true, spanMs: MAX_SPAN_MS });
    expect(zoomBy({ live: true, spanMs: MIN_SPAN_MS }, 0.5, now)).toEqual({ live: true, spanMs: MIN_SPAN_MS });
  });

  it("zooming a fixed range keeps its centre", () => {
    const v = zoomBy({ live: false, startMs: now - 3 * DAY, endMs: now - DAY }, 0.5, now);
    expect(rangeOf(v, now)).toEqual({ startMs: now - 2.5 * DAY, endMs: now - 1.5 * DAY });
  });
});

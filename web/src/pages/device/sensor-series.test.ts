import { describe, expect, it } from "vitest";
import { SensorSeries } from "./sensor-series.ts";

describe("SensorSeries, raw readings", () => {
  it("merges live readings in time order, once each", () => {
    const s = new SensorSeries("x");
    s.setRaw([1_000, 2_000, 3_000], [1, 2, 3]);
    s.add(4_000, 4); // the usual case: newer
    s.add(2_500, 2.5); // late
    s.add(3_000, 30); // seen in the history and on the stream: replaced, not doubled
    expect(s.plotData()).toEqual([
      [1, 2, 2.5, 3, 4],
      [1, 2, 2.5, 30, 4],
    ]);
    expect(s.latest).toEqual({ timeMs: 4_000, value: 4 });
  });

  it("draws a gap where readings stop, instead of a line across it", () => {
    const s = new SensorSeries("x");
    const times = [0, 100, 200, 300, 400, 10_400, 10_500];
    s.setRaw(
      times,
      times.map((_, i) => i),
    );
    const [xs, ys] = s.plotData();
    expect(ys).toEqual([0, 1, 2, 3, 4, null, 5, 6]);
    expect(xs[5]).toBeCloseTo(0.401);
  });

  it("drops readings that left a live window", () => {
    const s = new SensorSeries("x");
    s.setRaw([1, 2, 3, 4], [1, 2, 3, 4]);
    const v = s.version;
    s.trimBefore(3);
    expect(s.plotData()).toEqual([
      [0.003, 0.004],
      [3, 4],
    ]);
    expect(s.version).toBeGreaterThan(v);
  });
});

describe("SensorSeries, aggregates", () => {
  it("folds live readings into their bucket (count, average, min, max)", () => {
    const s = new SensorSeries("x");
    s.setBuckets(60_000, [{ startMs: 0, count: 2, avg: 10, min: 8, max: 12 }]);
    s.add(30_000, 16); // same bucket: avg of 8, 12, 16
    s.add(61_000, 5); // a new bucket
    expect(s.plotData()).toEqual([
      [0, 60],
      [(20 + 16) / 3, 5],
      [8, 5],
      [16, 5],
    ]);
  });

  it("leaves missing buckets as gaps", () => {
    const s = new SensorSeries("x");
    s.setBuckets(60_000, [
      { startMs: 0, count: 1, avg: 1, min: 1, max: 1 },
      { startMs: 180_000, count: 1, avg: 2, min: 2, max: 2 },
    ]);
    const [xs, ys, lo, hi] = s.plotData();
    expect(xs).toEqual([0, 60, 180]);
    expect(ys).toEqual([1, null, 2]);
    expect(lo).toEqual([1, null, 2]);
    expect(hi).toEqual([1, null, 2]);
    expect(s.extent()).toEqual({ min: 1, max: 2 });
  });
});

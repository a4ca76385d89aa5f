import { describe, expect, it } from "vitest";
import {
  nearestRank,
  SKETCH_LN_GAMMA_SQL,
  SKETCH_LN_INV_MIN_SQL,
  SKETCH_RELATIVE_ACCURACY,
  sketchBin,
  sketchBinValue,
} from "./sketch.ts";

describe("percentile sketch", () => {
  it("writes out the same constants the math gives", () => {
    const a = SKETCH_RELATIVE_ACCURACY;
    expect(Number(SKETCH_LN_GAMMA_SQL)).toBe(Math.log((1 + a) / (1 - a)));
    expect(Number(SKETCH_LN_INV_MIN_SQL)).toBeCloseTo(Math.log(1e9), 14);
  });

  it("keeps every value within the relative accuracy of its bin's value", () => {
    const values = [1e-9, 3.2e-7, 0.001, 0.5, 1, 19.99, 20, 21.7, 1234.5, 9.9e15, 1.7e308];
    for (let i = 0; i < 2000; i++) values.push((Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 12 - 4));
    for (const v of values) {
      const rep = sketchBinValue(sketchBin(v));
      expect(Math.abs(rep - v), String(v)).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY * Math.abs(v) * (1 + 1e-12));
      expect(Math.sign(rep)).toBe(Math.sign(v));
    }
  });

  it("puts magnitudes below 1e-9 in the zero bin and orders bins like values", () => {
    expect(sketchBin(0)).toBe(0);
    expect(sketchBin(-5e-10)).toBe(0);
    expect(sketchBinValue(0)).toBe(0);
    const sorted = [-1000, -1, -0.001, 0, 0.001, 1, 1000].map(sketchBin);
    expect([...sorted].sort((a, b) => a - b)).toEqual(sorted);
  });

  it("ranks like percentile_disc", () => {
    expect(nearestRank(50, 10)).toBe(5);
    expect(nearestRank(95, 10)).toBe(10);
    expect(nearestRank(95, 60)).toBe(57);
    expect(nearestRank(99, 1)).toBe(1);
    expect(nearestRank(50, 0)).toBe(1);
  });
});

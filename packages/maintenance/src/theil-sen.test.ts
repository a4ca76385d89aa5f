import { describe, expect, it } from "vitest";
import { select, theilSen } from "./theil-sen.ts";

describe("theilSen", () => {
  it("recovers an exact line", () => {
    const xs = [0, 1, 2, 3, 4, 5];
    const fit = theilSen(
      xs,
      xs.map((x) => 3 - 0.5 * x),
    )!;
    expect(fit.slope).toBeCloseTo(-0.5, 12);
    expect(fit.intercept).toBeCloseTo(3, 12);
  });

  it("ignores a quarter of wild points, where least squares does not", () => {
    const xs = Array.from({ length: 40 }, (_, i) => i);
    // Ten one-sided spikes, all in the later half: they drag least squares upwards.
    const ys = xs.map((x) => 100 - 0.2 * x + (x >= 20 && x % 2 === 0 ? 30 : 0));
    const fit = theilSen(xs, ys)!;
    expect(fit.slope).toBeCloseTo(-0.2, 6);
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const ols = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    expect(Math.abs(ols + 0.2)).toBeGreaterThan(0.5);
  });

  it("is not moved by gaps: the same line from every other point", () => {
    const xs = Array.from({ length: 30 }, (_, i) => i);
    const noise = (i: number) => Math.sin(i * 12.9898) * 0.3;
    const all = theilSen(
      xs,
      xs.map((x) => 5 + 0.1 * x + noise(x)),
    )!;
    const kept = xs.filter((x) => x < 8 || x > 20);
    const gappy = theilSen(
      kept,
      kept.map((x) => 5 + 0.1 * x + noise(x)),
    )!;
    expect(Math.abs(gappy.slope - 0.1)).toBeLessThan(0.02);
    expect(Math.abs(all.slope - 0.1)).toBeLessThan(0.02);
  });

  it("gives a slope interval that covers the true slope about 90 % of the time", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const gaussian = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
    let covered = 0;
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      const xs = Array.from({ length: 30 }, (_, i) => i);
      const fit = theilSen(
        xs,
        xs.map((x) => 1 + 0.05 * x + gaussian()),
      )!;
      if (fit.slopeLow <= 0.05 && 0.05 <= fit.slopeHigh) covered++;
      expect(fit.slopeLow).toBeLessThanOrEqual(fit.slope);
      expect(fit.slopeHigh).toBeGreaterThanOrEqual(fit.slope);
    }
    expect(covered / runs).toBeGreaterThan(0.85);
    expect(covered / runs).toBeLessThan(0.96);
  });

  it("needs two distinct x", () => {
    expect(theilSen([1], [2])).toBeUndefined();
    expect(theilSen([1, 1], [2, 3])).toBeUndefined();
  });
});

describe("select", () => {
  it("finds every order statistic, with ties, as a sort would", () => {
    let seed = 3;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const n of [1, 2, 3, 10, 101, 1000]) {
      const values = Float64Array.from({ length: n }, () => Math.floor(random() * 50));
      const sorted = Float64Array.from(values).sort();
      for (const k of [0, n >> 1, n - 1, Math.floor(n / 3)]) {
        expect(select(Float64Array.from(values), k), `n=${n} k=${k}`).toBe(sorted[k]);
      }
    }
  });
});

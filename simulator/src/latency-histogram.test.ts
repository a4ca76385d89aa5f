import { describe, expect, it } from "vitest";
import { LatencyHistogram } from "./latency-histogram.ts";

describe("LatencyHistogram", () => {
  it("reports quantiles within 2% of the exact values", () => {
    const h = new LatencyHistogram();
    const samples = Array.from({ length: 10_000 }, (_, i) => (i + 1) / 10); // 0.1 .. 1000 ms
    for (const s of samples) h.record(s);
    expect(h.count).toBe(10_000);
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(500);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(500 * 1.02);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(990);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(990 * 1.02);
  });

  it("merges and handles the empty case", () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    expect(a.quantile(0.5)).toBe(0);
    a.record(1);
    b.record(100);
    a.merge(b);
    expect(a.count).toBe(2);
    expect(a.quantile(1)).toBeGreaterThanOrEqual(100);
  });
});

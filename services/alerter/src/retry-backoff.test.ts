import { describe, expect, it } from "vitest";
import { retryBackoffMs } from "./retry-backoff.ts";

describe("retryBackoffMs", () => {
  it("doubles from 1 s, between half and all of each step", () => {
    expect([0, 1, 2, 3].map((n) => retryBackoffMs(n, 300_000, () => 0))).toEqual([500, 1_000, 2_000, 4_000]);
    expect([0, 1, 2, 3].map((n) => retryBackoffMs(n, 300_000, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it("stops growing at the cap, and a huge attempt count does not overflow", () => {
    expect(retryBackoffMs(20, 300_000, () => 1)).toBe(300_000);
    expect(retryBackoffMs(20, 300_000, () => 0)).toBe(150_000);
    expect(retryBackoffMs(1e9, 300_000, () => 0.5)).toBe(225_000);
  });
});

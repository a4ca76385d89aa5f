import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.ts";

describe("RateLimiter", () => {
  it("item 6: keeps a device's bucket while it refills, whether or not it has a stream", () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 100 });
    expect(limiter.take(1, 100, 0)).toBe(0);
    // The stream closed: the sweep keeps the bucket, it is not full yet.
    expect(limiter.sweep(1_000, () => false)).toBe(1);
    expect(limiter.take(1, 100, 1_000)).toBe(9_000);
    // Full again after 10 s: forgetting it now changes nothing.
    expect(limiter.sweep(20_000, () => false)).toBe(0);
    expect(limiter.take(1, 100, 20_000)).toBe(0);
  });

  it("keeps the bucket of a connected device even when full (its override stays applied)", () => {
    const limiter = new RateLimiter({ perSecond: 10, burst: 100 });
    limiter.setLimit(2, { perSecond: 1, burst: 5 }, 0);
    expect(limiter.sweep(60_000, (id) => id === 2)).toBe(1);
    expect(limiter.take(2, 5, 60_000)).toBe(0);
    expect(limiter.take(2, 1, 60_000)).toBe(1_000);
  });
});

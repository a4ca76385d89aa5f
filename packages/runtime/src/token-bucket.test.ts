import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.ts";

describe("TokenBucket", () => {
  it("allows a burst, then the sustained rate, and says how long to wait", () => {
    const bucket = new TokenBucket(100, 500, 0);
    expect(bucket.take(500, 0)).toBe(0);
    expect(bucket.take(100, 0)).toBe(1000);
    expect(bucket.take(100, 500)).toBe(500);
    expect(bucket.take(100, 1000)).toBe(0);
    expect(bucket.take(1, 1000)).toBe(10);
  });

  it("never accrues more than the burst", () => {
    const bucket = new TokenBucket(100, 200, 0);
    expect(bucket.take(200, 3_600_000)).toBe(0);
    expect(bucket.take(1, 3_600_000)).toBeGreaterThan(0);
  });

  it("lets a batch larger than the burst through on a full bucket, then makes up for it", () => {
    const bucket = new TokenBucket(100, 200, 0);
    expect(bucket.take(1000, 0)).toBe(0);
    expect(bucket.take(100, 1000)).toBe(8000);
  });

  it("applies new limits without granting tokens", () => {
    const bucket = new TokenBucket(100, 1000, 0);
    bucket.setLimits(10, 50);
    expect(bucket.take(50, 0)).toBe(0);
    expect(bucket.take(10, 0)).toBe(1000);
  });

  it("charges a batch it cannot refuse, into debt of at most one burst, and knows when it is full again", () => {
    const bucket = new TokenBucket(100, 200, 0);
    bucket.charge(150, 0);
    expect(bucket.take(100, 0)).toBe(500);
    bucket.charge(10_000, 0);
    // Debt stops at one burst: 400 tokens to earn before 200 can pass.
    expect(bucket.take(200, 0)).toBe(4000);
    expect(bucket.isFull(3999)).toBe(false);
    expect(bucket.isFull(4000)).toBe(true);
  });
});

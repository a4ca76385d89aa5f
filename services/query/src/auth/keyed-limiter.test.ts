import { describe, expect, it } from "vitest";
import { KeyedLimiter } from "./keyed-limiter.ts";

describe("KeyedLimiter", () => {
  it("limits each key on its own", () => {
    const limiter = new KeyedLimiter(60, 3);
    for (let i = 0; i < 3; i++) expect(limiter.take("alice", 0)).toBe(0);
    expect(limiter.take("alice", 0)).toBe(1000);
    expect(limiter.take("bob", 0)).toBe(0);
    expect(limiter.take("alice", 1000)).toBe(0);
  });
});

import { describe, expect, it } from "vitest";
import { ConcurrencyLimit } from "./concurrency-limit.ts";

describe("ConcurrencyLimit", () => {
  it("allows perKey at once per key and total in all, and frees a slot on release (once)", () => {
    const limit = new ConcurrencyLimit(2, 3);
    const a1 = limit.acquire("a");
    const a2 = limit.acquire("a");
    expect(a1 && a2).toBeTruthy();
    expect(limit.acquire("a")).toBeUndefined();
    const b1 = limit.acquire("b");
    expect(b1).toBeTruthy();
    expect(limit.acquire("c")).toBeUndefined();
    a1!();
    a1!();
    expect(limit.acquire("a")).toBeTruthy();
    expect(limit.acquire("c")).toBeUndefined();
  });
});

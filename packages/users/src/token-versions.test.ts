import { describe, expect, it } from "vitest";
import { TokenVersionCache } from "./token-versions.ts";

describe("TokenVersionCache", () => {
  it("reads a user's version once per TTL, and once for parallel checks", async () => {
    let now = 0;
    let reads = 0;
    const load = async () => {
      reads++;
      return 2;
    };
    const cache = new TokenVersionCache({ load, ttlMs: 1_000, now: () => now });
    expect(await Promise.all([cache.isCurrent(1, 2), cache.isCurrent(1, 1), cache.isCurrent(1, 3)])).toEqual([
      true,
      false,
      true,
    ]);
    expect(reads).toBe(1);
    now = 999;
    await cache.isCurrent(1, 2);
    expect(reads).toBe(1);
    now = 1_000;
    await cache.isCurrent(1, 2);
    expect(reads).toBe(2);
  });

  it("applies an announced version at once, and a slower, older read cannot undo it", async () => {
    let release: (v: number) => void = () => {};
    const cache = new TokenVersionCache({
      load: () => new Promise<number>((r) => (release = r)),
      ttlMs: 60_000,
    });
    const pending = cache.isCurrent(7, 4);
    cache.observe(7, 5);
    release(4); // read before the change committed
    expect(await pending).toBe(false);
    expect(await cache.isCurrent(7, 4)).toBe(false);
    expect(await cache.isCurrent(7, 5)).toBe(true);
  });

  it("refuses every token of a user the database does not know or has disabled", async () => {
    const cache = new TokenVersionCache({ load: async () => undefined, ttlMs: 60_000 });
    expect(await cache.isCurrent(9, 0)).toBe(false);
  });
});

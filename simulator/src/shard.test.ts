import { describe, expect, it } from "vitest";
import { loadSimulatorConfig } from "./config.ts";
import { parseShard, selectShard, shardNumbers } from "./shard.ts";

const fleet = (code: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ code, number: i + 1, apiKey: `key-${code}-${i + 1}` }));

describe("shards", () => {
  it("parses i/n and refuses anything else", () => {
    expect(parseShard("1/1")).toEqual({ index: 1, count: 1 });
    expect(parseShard("3/4")).toEqual({ index: 3, count: 4 });
    for (const bad of ["0/4", "5/4", "1/0", "2", "a/b", "1/2/3", " 1/2", "-1/2"])
      expect(parseShard(bad), bad).toBe(undefined);
  });

  it("splits a fleet into disjoint shards that cover it, whatever the file's order", () => {
    const all = [...fleet("OR", 10), ...fleet("ICU", 7)];
    const shuffled = [...all].reverse();
    const shards = [1, 2, 3].map((index) => selectShard(shuffled, { index, count: 3 }));
    const keys = shards.flat().map((d) => `${d.code}-${d.number}`);
    expect(new Set(keys).size).toBe(all.length);
    expect(shards.map((s) => s.length)).toEqual([6, 6, 5]);
    // The same split from any order: a shard is a function of the fleet.
    expect(selectShard(all, { index: 2, count: 3 })).toEqual(shards[1]);
  });

  it("gives each shard its own device numbers to register", () => {
    expect(shardNumbers(1, 10, { index: 1, count: 3 })).toEqual([1, 4, 7, 10]);
    expect(shardNumbers(1, 10, { index: 3, count: 3 })).toEqual([3, 6, 9]);
    expect(shardNumbers(1, 10, { index: 1, count: 1 })).toHaveLength(10);
  });

  it("is a setting with a flag, refused with a clear message when malformed", () => {
    expect(loadSimulatorConfig({}, ["--shard", "2/5"]).SIMULATOR_SHARD).toBe("2/5");
    expect(loadSimulatorConfig({}, []).SIMULATOR_SHARD).toBe("1/1");
    expect(() => loadSimulatorConfig({ SIMULATOR_SHARD: "6/5" }, [])).toThrow(/SIMULATOR_SHARD: must be i\/n/);
  });
});

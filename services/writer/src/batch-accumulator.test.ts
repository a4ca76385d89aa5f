import { describe, expect, it } from "vitest";
import { BatchAccumulator } from "./batch-accumulator.ts";

describe("BatchAccumulator", () => {
  it("flushes when the weight is reached, and the rest on drain", async () => {
    const groups: number[][] = [];
    const acc = new BatchAccumulator<number>({
      maxWeight: 10,
      maxWaitMs: 60_000,
      concurrency: 1,
      flush: async (items) => {
        groups.push(items);
      },
    });
    for (const n of [1, 2, 3]) await acc.add(n, 4);
    expect(groups).toEqual([[1, 2, 3]]);
    await acc.add(4, 1);
    await acc.drain();
    expect(groups).toEqual([[1, 2, 3], [4]]);
  });

  it("flushes a partial group after maxWaitMs", async () => {
    const groups: number[][] = [];
    const acc = new BatchAccumulator<number>({
      maxWeight: 100,
      maxWaitMs: 20,
      concurrency: 1,
      flush: async (i) => void groups.push(i),
    });
    await acc.add(1, 1);
    expect(groups).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(groups).toEqual([[1]]);
  });

  it("never runs more flushes than its concurrency", async () => {
    let running = 0;
    let peak = 0;
    const acc = new BatchAccumulator<number>({
      maxWeight: 1,
      maxWaitMs: 1_000,
      concurrency: 2,
      flush: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
      },
    });
    for (let i = 0; i < 10; i++) await acc.add(i, 1);
    await acc.drain();
    expect(peak).toBe(2);
  });
});

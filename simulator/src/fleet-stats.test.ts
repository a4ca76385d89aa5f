import { describe, expect, it } from "vitest";
import { FleetStats, RECENT_WINDOW_MS } from "./fleet-stats.ts";

describe("FleetStats ack latency", () => {
  it("keeps every ack in the total and only the last 10 to 20 seconds in the recent figures", () => {
    const stats = new FleetStats();
    const t0 = 1_000_000;
    for (let i = 0; i < 100; i++) stats.recordAck(1_000, t0 + i); // a slow start
    for (let i = 0; i < 100; i++) stats.recordAck(2, t0 + RECENT_WINDOW_MS + i);
    // One window later the slow acks are still recent; two windows later they are gone.
    expect(stats.recentAckLatency(t0 + RECENT_WINDOW_MS + 200).quantile(0.99)).toBeGreaterThanOrEqual(1_000);
    expect(stats.recentAckLatency(t0 + 2 * RECENT_WINDOW_MS + 1).quantile(0.99)).toBeLessThan(2.1);
    expect(stats.recentAckLatency(t0 + 5 * RECENT_WINDOW_MS).count).toBe(0);
    expect(stats.ackLatency.count).toBe(200);
    expect(stats.ackLatency.quantile(0.99)).toBeGreaterThanOrEqual(1_000);
  });
});

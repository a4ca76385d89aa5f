import { describe, expect, it } from "vitest";
import { fastBrotli, fastGzip } from "./response-compression.ts";

/** A GetStats answer as the API writes it: a robot's five sensors over 30 days, hourly (820 KB of JSON). */
function statsAnswer(): Uint8Array {
  const buckets = Array.from({ length: 3605 }, (_, i) => ({
    startTime: new Date(Date.UTC(2026, 10, 6) + Math.floor(i / 5) * 3_600_000).toISOString(),
    sensor: ["joint1.angle_deg", "joint1.torque_nm", "motor.temperature_c", "motor.voltage_v", "battery.charge_pct"][
      i % 5
    ],
    count: String(50 + (i % 7)),
    min: Math.sin(i) * 100,
    max: 100 + Math.cos(i) * 100,
    avg: 50 + Math.sin(i * 7) * 40,
    p50: 50 + Math.sin(i * 3) * 40,
    p95: 120 + Math.sin(i * 5) * 30,
    p99: 180 + Math.sin(i * 11) * 10,
  }));
  return new TextEncoder().encode(JSON.stringify({ source: "STATS_SOURCE_HOURLY", buckets }));
}

describe("response compression", () => {
  const answer = statsAnswer();

  for (const c of [fastGzip, fastBrotli]) {
    it(`${c.name}: round-trips, shrinks the answer at least threefold, and costs a bounded CPU time`, async () => {
      const cpu = process.cpuUsage();
      const packed = await c.compress(answer);
      const used = process.cpuUsage(cpu);
      // CPU time (the thread pool's included), not wall time: load does not stretch it. zlib's default
      // brotli quality took 1.2 s here; these levels take about 10 ms.
      expect((used.user + used.system) / 1000).toBeLessThan(300);
      expect(packed.byteLength).toBeLessThan(answer.byteLength / 3);
      expect(Buffer.from(await c.decompress(packed, answer.byteLength)).equals(answer)).toBe(true);
    });
  }

  it("decompresses request bodies with the size limit (connect-node's)", async () => {
    const packed = await fastGzip.compress(answer);
    await expect(fastGzip.decompress(packed, 1000)).rejects.toThrow(/larger than configured readMaxBytes/);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "@vigil/db";
import { createLogger } from "@vigil/runtime";
import { createSimulatorApp, loadSimulatorConfig, provisionDevices, type SimulatorApp } from "@vigil/simulator";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/**
 * The simulator as operators drive it: devices registered in bulk, a shard
 * of the fleet per process, and start, stop and interval changes over its
 * control API (Connect-JSON, as curl sends it).
 */
/** A SimulatorService answer as Connect-JSON: 64-bit counters are strings, zero values are left out. */
interface ControlReply {
  status?: {
    running?: boolean;
    intervalMs?: number;
    batchSize?: number;
    shard?: { index: number; count: number };
    summary: Record<string, number | string | undefined>;
  };
  code?: string;
  message?: string;
}

describe("simulator at scale: bulk registration, shards, control API", () => {
  let pipeline: Pipeline;
  let simulator: SimulatorApp;
  let dir: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    dir = mkdtempSync(join(tmpdir(), "vigil-sim-control-"));
  });
  afterAll(async () => {
    await simulator?.stop();
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call(method: string, body: object = {}) {
    const res = await fetch(`http://127.0.0.1:${simulator.controlPort}/vigil.simulator.v1.SimulatorService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as ControlReply };
  }
  const summary = async () => (await call("GetStatus")).body.status!.summary;

  it("registers devices in bulk with working keys and an audit row each, or none when one exists", async () => {
    const db = pipeline.database.db;
    const devices = await provisionDevices(db, "CTL", [1, 2, 3, 4, 5, 6]);
    expect(devices.map((d) => d.number)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Set(devices.map((d) => d.apiKey)).size).toBe(6);
    const audit = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.create' AND target LIKE 'device:CTL-%'`.execute(
      db,
    );
    expect(audit.rows[0]!.n).toBe(6);

    await expect(provisionDevices(db, "CTL", [6, 7])).rejects.toThrow(
      /1 of the devices exist already \(e\.g\. CTL-6\)/,
    );
    const seven = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM devices WHERE code = 'CTL' AND number = 7`.execute(db);
    expect(seven.rows[0]!.n).toBe(0);
    writeFileSync(join(dir, "devices.json"), JSON.stringify(devices));
  });

  it("runs its shard only when told to, changes the interval, stops and resumes", async () => {
    simulator = createSimulatorApp(
      loadSimulatorConfig(
        {
          SIMULATOR_TARGET: `127.0.0.1:${pipeline.receiver.port}`,
          SIMULATOR_DEVICES_FILE: join(dir, "devices.json"),
          SIMULATOR_SHARD: "2/2",
          SIMULATOR_AUTOSTART: "false",
          SIMULATOR_CONTROL_PORT: "0",
          SIMULATOR_INTERVAL_MS: "100",
          SIMULATOR_BATCH_SIZE: "5",
        },
        [],
      ),
      { logger: createLogger({ name: "simulator", level: "warn" }) },
    );
    await simulator.start();

    const idle = (await call("GetStatus")).body.status!;
    expect(idle).toMatchObject({ intervalMs: 100, batchSize: 5, shard: { index: 2, count: 2 } });
    expect(idle.running).toBeFalsy();
    expect(idle.summary.devices).toBe(3);
    expect(idle.summary.sent).toBeUndefined(); // 0 is omitted in Connect-JSON

    expect((await call("Start")).status).toBe(200);
    await waitFor("the shard's 3 devices to connect", async () => (await summary()).connected === 3);
    await waitFor("acks", async () => Number((await summary()).acked ?? 0) >= 6);

    const refused = await call("SetInterval", { intervalMs: 0 });
    expect(refused).toEqual({
      status: 400,
      body: { code: "invalid_argument", message: "interval_ms must be from 1 to 3600000 (got 0)" },
    });
    expect((await call("SetInterval", { intervalMs: 3_600_001 })).status).toBe(400);
    expect((await call("SetInterval", { intervalMs: 50 })).body.status?.intervalMs).toBe(50);

    const stopped = (await call("Stop")).body.status!;
    expect(stopped.running).toBeFalsy();
    expect(stopped.summary.connected).toBeUndefined();
    const ackedAtStop = Number(stopped.summary.acked);
    await new Promise((r) => setTimeout(r, 300));
    expect(Number((await summary()).acked)).toBe(ackedAtStop);

    const one = (await call("Start", { devices: 1 })).body.status!;
    expect(one.summary.running).toBe(1);
    await waitFor("acks to resume", async () => Number((await summary()).acked) >= ackedAtStop + 3);
    const after = await summary();
    expect(after.connected).toBe(1);
    expect(after.rejected).toBeUndefined();
    expect((await call("Start", { devices: 4 })).status).toBe(400);

    // Only shard 2/2 sent: CTL-2, CTL-4 and CTL-6 (every second device by number, from the second).
    await waitFor("readings stored", async () => {
      const { rows } = await sql<{ number: number }>`
        SELECT DISTINCT d.number FROM readings r JOIN devices d ON d.id = r.device_id
        WHERE d.code = 'CTL' ORDER BY 1`.execute(pipeline.database.db);
      if (rows.some((r) => r.number % 2 === 1)) throw new Error(`odd devices sent: ${JSON.stringify(rows)}`);
      return rows.length === 3;
    });
  });
});

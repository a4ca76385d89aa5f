import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { FaultKind, SimulatorService } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { type FleetControl, simulatorService } from "./control-service.ts";
import type { FleetSummary } from "./fleet-stats.ts";

/** A fleet of `devices` that records what it was told. */
function fakeFleet(devices: number) {
  const calls: string[] = [];
  let running = 0;
  let intervalMs = 1000;
  const control: FleetControl = {
    deviceCount: devices,
    async start(n) {
      calls.push(`start ${n}`);
      running = n;
    },
    async stop() {
      calls.push("stop");
      running = 0;
    },
    setIntervalMs(ms) {
      calls.push(`interval ${ms}`);
      intervalMs = ms;
    },
    settings: () => ({ intervalMs, batchSize: 10, devicesPerConnection: 100, shard: { index: 2, count: 3 } }),
    summary: (): FleetSummary => ({
      devices,
      running,
      connected: running,
      connections: Math.ceil(running / 100),
      sent: 12,
      acked: 10,
      duplicatesAcked: 1,
      readingsAcked: 100,
      rejected: 2,
      throttled: 3,
      reconnects: 4,
      drains: 0,
      skipped: 0,
      authFailures: 0,
      unacked: 2,
      ackLatencyMs: { p50: 1.5, p99: 9.25 },
      recentAckLatencyMs: { p50: 1.25, p99: 4 },
      rejectReasons: { "series[0].values[0]: value is not a finite number": 2 },
    }),
    injectFault(input) {
      calls.push(
        `fault ${input.kind} ${input.code}-${input.number} ${input.sensor} ${input.magnitude} ${input.durationMs}`,
      );
      if (input.code !== "SIM")
        throw new RangeError(`device ${input.code}-${input.number} is not simulated by this process`);
      return {
        id: 1,
        device: { code: input.code, number: input.number },
        sensor: input.sensor,
        kind: input.kind,
        magnitude: input.magnitude,
        sigma: 2,
        durationMs: input.durationMs || 100,
        createdAtMs: 1_700_000_000_000,
        fromMs: undefined,
        toMs: undefined,
        firstReadingMs: undefined,
        lastReadingMs: undefined,
        readings: 0,
        held: undefined,
      };
    },
    faults: () => [],
  };
  const client = createClient(
    SimulatorService,
    createRouterTransport((router) => router.service(SimulatorService, simulatorService(control))),
  );
  return { client, calls };
}

async function connectError(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

describe("SimulatorService", () => {
  it("starts all devices, or the first N, stops them, and reports the fleet summary", async () => {
    const { client, calls } = fakeFleet(500);
    const started = await client.start({});
    expect(started.status?.running).toBe(true);
    expect(started.status?.summary?.running).toBe(500);
    expect((await client.start({ devices: 200 })).status?.summary?.connected).toBe(200);
    const stopped = await client.stop({});
    expect(stopped.status?.running).toBe(false);
    expect(calls).toEqual(["start 500", "start 200", "stop"]);

    const { status } = await client.getStatus({});
    expect(status?.shard).toMatchObject({ index: 2, count: 3 });
    expect(status?.summary).toMatchObject({
      devices: 500,
      sent: 12n,
      acked: 10n,
      rejected: 2n,
      throttled: 3n,
      reconnects: 4n,
      ackLatencyMsP50: 1.5,
      ackLatencyMsP99: 9.25,
      recentAckLatencyMsP50: 1.25,
      recentAckLatencyMsP99: 4,
    });
    expect(status?.summary?.rejectReasons).toEqual({ "series[0].values[0]: value is not a finite number": 2n });
  });

  it("changes the interval within its bounds and names the field when out of them", async () => {
    const { client, calls } = fakeFleet(10);
    expect((await client.setInterval({ intervalMs: 250 })).status?.intervalMs).toBe(250);
    for (const intervalMs of [0, 3_600_001]) {
      const err = await connectError(client.setInterval({ intervalMs }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe(`interval_ms must be from 1 to 3600000 (got ${intervalMs})`);
    }
    expect(calls).toEqual(["interval 250"]);
  });

  it("refuses to start more devices than the process simulates", async () => {
    const { client, calls } = fakeFleet(10);
    const err = await connectError(client.start({ devices: 11 }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^devices must be at most 10/);
    expect(calls).toEqual([]);
  });
});

describe("InjectFault", () => {
  it("passes the fault on and answers with it", async () => {
    const { client, calls } = fakeFleet(3);
    const res = await client.injectFault({
      deviceCode: "SIM",
      deviceNumber: 2,
      sensor: "patient.heart_rate_bpm",
      kind: FaultKind.SPIKE,
      magnitude: 8,
    });
    expect(calls).toEqual(["fault spike SIM-2 patient.heart_rate_bpm 8 0"]);
    expect(res.fault?.sigma).toBe(2);
    expect(res.fault?.kind).toBe(FaultKind.SPIKE);
  });

  it("refuses an unknown device or kind as InvalidArgument", async () => {
    const { client } = fakeFleet(3);
    const unknown = await connectError(client.injectFault({ deviceCode: "X", deviceNumber: 1, kind: FaultKind.STEP }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toMatch(/X-1 is not simulated/);
    const noKind = await connectError(client.injectFault({ deviceCode: "SIM", deviceNumber: 1 }));
    expect(noKind.code).toBe(Code.InvalidArgument);
  });
});

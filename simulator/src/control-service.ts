import http from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { FaultKind, type Fault as FaultMessage, FaultSchema, SimulatorService } from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import { INTERVAL_MS_MAX, INTERVAL_MS_MIN } from "./config.ts";
import type { Fault, FaultKind as Kind } from "./faults.ts";
import type { FleetSummary } from "./fleet-stats.ts";
import type { Shard } from "./shard.ts";

/** What the control API needs from a running simulator. */
export interface FleetControl {
  /** Devices this process simulates. */
  readonly deviceCount: number;
  start(devices: number): Promise<void>;
  stop(): Promise<void>;
  setIntervalMs(ms: number): void;
  settings(): { intervalMs: number; batchSize: number; devicesPerConnection: number; shard: Shard };
  summary(): FleetSummary;
  injectFault(input: {
    code: string;
    number: number;
    sensor: string;
    kind: Kind;
    magnitude: number;
    durationMs: number;
  }): Fault;
  faults(): readonly Fault[];
}

const FAULT_KINDS: Partial<Record<FaultKind, Kind>> = {
  [FaultKind.SPIKE]: "spike",
  [FaultKind.STEP]: "step",
  [FaultKind.DRIFT]: "drift",
  [FaultKind.STUCK]: "stuck",
  [FaultKind.DROPOUT]: "dropout",
  [FaultKind.SILENCE]: "silence",
};

function toFaultMessage(f: Fault): FaultMessage {
  const kind = Number(Object.entries(FAULT_KINDS).find(([, k]) => k === f.kind)?.[0] ?? 0) as FaultKind;
  return create(FaultSchema, {
    id: f.id,
    deviceCode: f.device.code,
    deviceNumber: f.device.number,
    sensor: f.sensor,
    kind,
    magnitude: f.magnitude,
    sigma: f.sigma,
    duration: durationFromMs(f.durationMs),
    firstReadingTime: f.firstReadingMs === undefined ? undefined : timestampFromMs(f.firstReadingMs),
    lastReadingTime: f.lastReadingMs === undefined ? undefined : timestampFromMs(f.lastReadingMs),
    readings: BigInt(f.readings),
    createTime: timestampFromMs(f.createdAtMs),
  });
}

/**
 * vigil.simulator.v1.SimulatorService over a FleetControl. Every call answers
 * with the status after it; out-of-range arguments are InvalidArgument
 * naming the field and its bounds.
 */
export function simulatorService(control: FleetControl): ServiceImpl<typeof SimulatorService> {
  const status = () => {
    const s = control.summary();
    const settings = control.settings();
    return {
      running: s.running > 0,
      intervalMs: settings.intervalMs,
      batchSize: settings.batchSize,
      devicesPerConnection: settings.devicesPerConnection,
      shard: settings.shard,
      summary: {
        devices: s.devices,
        running: s.running,
        connected: s.connected,
        connections: s.connections,
        sent: BigInt(s.sent),
        acked: BigInt(s.acked),
        duplicatesAcked: BigInt(s.duplicatesAcked),
        readingsAcked: BigInt(s.readingsAcked),
        rejected: BigInt(s.rejected),
        throttled: BigInt(s.throttled),
        reconnects: BigInt(s.reconnects),
        drains: BigInt(s.drains),
        skipped: BigInt(s.skipped),
        authFailures: BigInt(s.authFailures),
        unacked: BigInt(s.unacked),
        ackLatencyMsP50: s.ackLatencyMs.p50,
        ackLatencyMsP99: s.ackLatencyMs.p99,
        recentAckLatencyMsP50: s.recentAckLatencyMs.p50,
        recentAckLatencyMsP99: s.recentAckLatencyMs.p99,
        rejectReasons: Object.fromEntries(Object.entries(s.rejectReasons).map(([k, v]) => [k, BigInt(v)])),
      },
    };
  };
  return {
    async start(req) {
      if (req.devices > control.deviceCount) {
        throw new ConnectError(
          `devices must be at most ${control.deviceCount}, the devices this process simulates (got ${req.devices}); 0 starts all`,
          Code.InvalidArgument,
        );
      }
      await control.start(req.devices === 0 ? control.deviceCount : req.devices);
      return { status: status() };
    },
    async stop() {
      await control.stop();
      return { status: status() };
    },
    async setInterval(req) {
      if (req.intervalMs < INTERVAL_MS_MIN || req.intervalMs > INTERVAL_MS_MAX) {
        throw new ConnectError(
          `interval_ms must be from ${INTERVAL_MS_MIN} to ${INTERVAL_MS_MAX} (got ${req.intervalMs})`,
          Code.InvalidArgument,
        );
      }
      control.setIntervalMs(req.intervalMs);
      return { status: status() };
    },
    async getStatus() {
      return { status: status() };
    },
    async injectFault(req) {
      const kind = FAULT_KINDS[req.kind];
      if (!kind)
        throw new ConnectError("kind must be SPIKE, STEP, DRIFT, STUCK, DROPOUT or SILENCE", Code.InvalidArgument);
      const duration = req.duration ? durationMs(req.duration) : 0;
      try {
        const fault = control.injectFault({
          code: req.deviceCode,
          number: req.deviceNumber,
          sensor: req.sensor,
          kind,
          magnitude: req.magnitude,
          durationMs: duration,
        });
        return { fault: toFaultMessage(fault) };
      } catch (err) {
        if (err instanceof RangeError) throw new ConnectError(err.message, Code.InvalidArgument);
        throw err;
      }
    },
    async listFaults() {
      return { faults: control.faults().map(toFaultMessage) };
    },
  };
}

export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the control API with Connect over HTTP/1.1: Connect-JSON (plain
 * curl), the Connect binary protocol and gRPC-Web. Control is a handful of
 * calls from people and scripts, so the port favours curl over HTTP/2.
 */
export async function startControlServer(
  control: FleetControl,
  options: { host: string; port: number; logger: Logger },
): Promise<ControlServer> {
  const handler = connectNodeAdapter({
    routes: (router) => router.service(SimulatorService, simulatorService(control)),
  });
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ host: options.host, port }, "simulator control API listening");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

import { Client, credentials } from "@grpc/grpc-js";
import type { FleetSummary } from "./fleet-stats.ts";
import { FleetStats } from "./fleet-stats.ts";
import { type DeviceIdentity, type DeviceOptions, SimulatedDevice } from "./simulated-device.ts";

export interface FleetOptions extends DeviceOptions {
  /** Receiver addresses, host:port, comma-separated: devices spread over them and fail over. */
  target: string;
  /** Devices sharing one HTTP/2 connection. */
  devicesPerConnection: number;
}

/**
 * Many simulated devices against one receiver address, spread over a pool
 * of HTTP/2 connections (each a grpc-js client with its own subchannel).
 */
export class Fleet {
  readonly stats = new FleetStats();
  readonly devices: SimulatedDevice[];
  private readonly clients: Client[] = [];

  constructor(identities: DeviceIdentity[], options: FleetOptions) {
    const targets = options.target
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const perConnection = Math.max(1, options.devicesPerConnection);
    const clients = new Map<string, Client>();
    const client = (target: string, slot: number) => {
      const key = `${target}#${slot}`;
      let c = clients.get(key);
      if (!c) {
        c = new Client(target, credentials.createInsecure(), {
          "grpc.use_local_subchannel_pool": 1,
          "grpc.keepalive_time_ms": 30_000,
          "grpc.max_receive_message_length": 4 * 1024 * 1024,
        });
        clients.set(key, c);
        this.clients.push(c);
      }
      return c;
    };
    this.devices = identities.map((identity, i) => {
      const slot = Math.floor(i / (perConnection * targets.length));
      // Device i starts on target i mod n and moves to the next one on every reconnect.
      const connectionFor = (attempt: number) => client(targets[(i + attempt) % targets.length]!, slot);
      return new SimulatedDevice(identity, connectionFor, options, this.stats);
    });
  }

  start(): void {
    for (const d of this.devices) d.start();
  }

  /** Stops every device (waiting for their outstanding acks) and closes the connections. */
  async stop(timeoutMs = 5_000): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop(timeoutMs)));
    for (const c of this.clients) c.close();
  }

  summary(): FleetSummary {
    const s = this.stats;
    return {
      devices: this.devices.length,
      connected: this.devices.filter((d) => d.connected).length,
      sent: s.batchesSent,
      acked: s.batchesAcked,
      duplicatesAcked: s.duplicatesAcked,
      readingsAcked: s.readingsAcked,
      rejected: s.batchesRejected,
      throttled: s.throttles,
      reconnects: s.reconnects,
      drains: s.drains,
      skipped: s.batchesSkipped,
      authFailures: s.authFailures,
      unacked: this.devices.reduce((n, d) => n + d.unacked, 0),
      ackLatencyMs: { p50: round(s.ackLatency.quantile(0.5)), p99: round(s.ackLatency.quantile(0.99)) },
      rejectReasons: Object.fromEntries(s.rejectReasons),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

import { type ChannelCredentials, Client, credentials } from "@grpc/grpc-js";
import { type ClientTlsFiles, grpcClientCredentials, grpcClientOptions } from "@vigil/tls";
import { type Fault, type FaultKind, faultDuration, MAX_FAULT_MS } from "./faults.ts";
import type { FleetSummary } from "./fleet-stats.ts";
import { FleetStats } from "./fleet-stats.ts";
import { type DeviceBehaviour, type DeviceIdentity, type DeviceOptions, SimulatedDevice } from "./simulated-device.ts";

export interface FleetOptions extends DeviceOptions {
  /** Receiver addresses, host:port, comma-separated: devices spread over them and fail over. */
  target: string;
  /** Devices sharing one HTTP/2 connection. */
  devicesPerConnection: number;
  /** What a device does beyond streaming its sensors (surgical robots: procedures and wear). */
  behaviourFor?: (identity: DeviceIdentity) => DeviceBehaviour | undefined;
  /** Speak TLS to the receivers: the CA to verify them with (unset: the system's), the name to check. */
  tls?: ClientTlsFiles;
}

/**
 * Many simulated devices against one receiver address, spread over a pool
 * of HTTP/2 connections (each a grpc-js client with its own subchannel).
 * Start, stop and the interval can change while it runs (the control API);
 * those changes run one after another.
 */
export class Fleet {
  readonly stats = new FleetStats();
  readonly devices: SimulatedDevice[];
  /** The devices' options: one object, so an interval change reaches them all. */
  private readonly options: FleetOptions;
  private readonly clients = new Map<string, Client>();
  /** Every fault injected, oldest first (ground truth). */
  readonly faults: Fault[] = [];
  /** Start and stop, serialised: a start waits for a stop in progress. */
  private queue: Promise<void> = Promise.resolve();
  /** Read once: a missing CA file fails here, at construction, not on every connection. */
  private readonly credentials: ChannelCredentials;
  private readonly channelOptions: Record<string, string>;

  constructor(identities: DeviceIdentity[], options: FleetOptions) {
    this.options = { ...options };
    this.credentials = options.tls ? grpcClientCredentials(options.tls) : credentials.createInsecure();
    this.channelOptions = options.tls ? grpcClientOptions(options.tls) : {};
    const targets = options.target
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
    const perConnection = Math.max(1, options.devicesPerConnection);
    this.devices = identities.map((identity, i) => {
      const slot = Math.floor(i / (perConnection * targets.length));
      // Device i starts on target i mod n and moves to the next one on every reconnect. A client
      // certificate identifies its whole connection (mTLS), so such a device gets one of its own.
      const connectionFor = (attempt: number) =>
        identity.certFile
          ? this.deviceClient(targets[(i + attempt) % targets.length]!, identity)
          : this.client(targets[(i + attempt) % targets.length]!, slot);
      return new SimulatedDevice(identity, connectionFor, this.options, this.stats, options.behaviourFor?.(identity));
    });
  }

  /** One connection per target and slot, opened on first use and again after stop(). */
  private client(target: string, slot: number): Client {
    const key = `${target}#${slot}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new Client(target, this.credentials, {
        ...this.channelOptions,
        "grpc.use_local_subchannel_pool": 1,
        "grpc.keepalive_time_ms": 30_000,
        "grpc.max_receive_message_length": 4 * 1024 * 1024,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  /** The connection of a device with its own client certificate. */
  private deviceClient(target: string, identity: DeviceIdentity): Client {
    const key = `${target}#${identity.code}-${identity.number}`;
    let c = this.clients.get(key);
    if (!c) {
      if (!this.options.tls) throw new Error("a device certificate needs TLS to the receivers (SIMULATOR_TLS)");
      const tls = { ...this.options.tls, certFile: identity.certFile, keyFile: identity.keyFile };
      c = new Client(target, grpcClientCredentials(tls), {
        ...grpcClientOptions(tls),
        "grpc.use_local_subchannel_pool": 1,
        "grpc.keepalive_time_ms": 30_000,
        "grpc.max_receive_message_length": 4 * 1024 * 1024,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  get intervalMs(): number {
    return this.options.intervalMs;
  }

  get devicesPerConnection(): number {
    return this.options.devicesPerConnection;
  }

  /**
   * Injects a fault into one device's next batches: a Fault to read back
   * (ListFaults) once the device has generated the readings it changed.
   * Throws a RangeError naming the problem for a bad request.
   */
  injectFault(input: {
    code: string;
    number: number;
    sensor: string;
    kind: FaultKind;
    magnitude: number;
    durationMs: number;
  }): Fault {
    const device = this.devices.find((d) => d.identity.code === input.code && d.identity.number === input.number);
    if (!device) throw new RangeError(`device ${input.code}-${input.number} is not simulated by this process`);
    if (!(input.durationMs >= 0 && input.durationMs <= MAX_FAULT_MS)) {
      throw new RangeError(`duration must be from 0 to ${MAX_FAULT_MS / 60_000} minutes`);
    }
    if (!(Math.abs(input.magnitude) <= 1_000)) throw new RangeError("magnitude must be from -1000 to 1000");
    const index = device.sensorIndex(input.sensor);
    if (input.kind !== "silence" && index < 0) {
      throw new RangeError(`sensor must be one of ${device.sensorNames().join(", ")} (got "${input.sensor}")`);
    }
    const spacing = Math.max(1, Math.floor(this.options.intervalMs / this.options.samplesPerBatch));
    const fault: Fault = {
      id: this.faults.length + 1,
      device: { code: input.code, number: input.number },
      sensor: input.kind === "silence" ? "" : input.sensor,
      kind: input.kind,
      magnitude: input.magnitude,
      sigma: index >= 0 ? device.sensorSigma(index) : 0,
      durationMs: faultDuration(input.kind, input.durationMs, spacing),
      createdAtMs: Date.now(),
      fromMs: undefined,
      toMs: undefined,
      firstReadingMs: undefined,
      lastReadingMs: undefined,
      readings: 0,
      held: undefined,
    };
    device.faults.add(fault);
    this.faults.push(fault);
    return fault;
  }

  /** Changes the time between batches of every device, at once. */
  setIntervalMs(ms: number): void {
    this.options.intervalMs = ms;
    for (const d of this.devices) d.intervalChanged();
  }

  /**
   * Runs the first `count` devices (all by default) and stops any beyond
   * them; a device already running carries on. Resolves once the stops are
   * done; the started devices connect in the background.
   */
  start(count = this.devices.length): Promise<void> {
    const run = async () => {
      const n = Math.max(0, Math.min(count, this.devices.length));
      await Promise.all(this.devices.slice(n).map((d) => d.stop()));
      for (const d of this.devices.slice(0, n)) d.start();
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  /** Stops every device (waiting for their outstanding acks) and closes the connections. */
  stop(timeoutMs = 5_000): Promise<void> {
    const run = async () => {
      await Promise.all(this.devices.map((d) => d.stop(timeoutMs)));
      for (const c of this.clients.values()) c.close();
      this.clients.clear();
    };
    this.queue = this.queue.then(run, run);
    return this.queue;
  }

  summary(): FleetSummary {
    const s = this.stats;
    const recent = s.recentAckLatency();
    let running = 0;
    let connected = 0;
    let unacked = 0;
    for (const d of this.devices) {
      if (d.running) running++;
      if (d.connected) connected++;
      unacked += d.unacked;
    }
    return {
      devices: this.devices.length,
      running,
      connected,
      connections: this.clients.size,
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
      unacked,
      ackLatencyMs: { p50: round(s.ackLatency.quantile(0.5)), p99: round(s.ackLatency.quantile(0.99)) },
      recentAckLatencyMs: { p50: round(recent.quantile(0.5)), p99: round(recent.quantile(0.99)) },
      rejectReasons: Object.fromEntries(s.rejectReasons),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

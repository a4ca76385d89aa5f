import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, type ClientDuplexStream, Metadata, status } from "@grpc/grpc-js";
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  type ColumnarSeries,
  encodeBatchStreamRequest,
  IngestService,
  StreamRequestSchema,
  type StreamResponse,
  StreamResponseSchema,
} from "@vigil/proto";
import { headersFromContext, tracer } from "@vigil/telemetry";
import { DeviceFaults } from "./faults.ts";
import type { FleetStats } from "./fleet-stats.ts";
import { DEVICE_KINDS, kindForCode, SensorWalk } from "./sensor-profiles.ts";

export interface DeviceIdentity {
  code: string;
  number: number;
  /** API key sent as x-api-key; empty when the device authenticates by its certificate alone. */
  apiKey: string;
  /** The device's client certificate and key (mTLS, PEM files): it then gets a connection of its own. */
  certFile?: string;
  keyFile?: string;
}

export interface DeviceOptions {
  /** Time between batches (realtime clock), and the span one batch covers. */
  intervalMs: number;
  /** Samples per sensor in one batch. */
  samplesPerBatch: number;
  /** Unacked batches kept for resending; beyond it new batches are skipped. */
  maxBufferedBatches: number;
  /**
   * "realtime": sample the wall clock every interval. "fast": send as fast as
   * acks allow, with reading times advancing by the same spacing but never
   * past the wall clock (for benchmarks).
   */
  clock: "realtime" | "fast";
  /** Stop generating after this many batches (0: no limit). */
  maxBatches?: number;
}

/** What a device adds to each batch beyond its sensors' random walks (a surgical robot's procedures and parts). */
export interface DeviceBehaviour {
  series(times: Float64Array): ColumnarSeries[];
  /** The device stops streaming: finish what is open (a procedure). */
  stop(): Promise<void>;
}

interface PendingBatch {
  bytes: Uint8Array;
  readings: number;
  /** When it was last written to a stream; undefined while unsent. */
  sentAt: number | undefined;
  /** The batch's ingest.batch span: from creation until acked or rejected, across resends. */
  span: Span;
}

const STREAM_PATH = `/${IngestService.typeName}/${IngestService.method.stream.name}`;
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 10_000;
const FAST_CLOCK_START_MS = 10 * 60_000;

type Call = ClientDuplexStream<Uint8Array, StreamResponse>;

/**
 * One simulated device holding one stream: Hello, Welcome (resume above
 * last_durable_seq), batches within the in-flight window, acks; on any
 * break it reconnects with backoff and resends every unacked batch.
 */
export class SimulatedDevice {
  readonly identity: DeviceIdentity;
  /** seq → readings, for every batch acked. */
  readonly acked = new Map<number, number>();
  /** When the receiver refused the device's key (the device then stops); undefined while it has not. */
  authFailedAt: number | undefined;
  /** Faults injected through the control API, applied to the batches it generates. */
  readonly faults = new DeviceFaults();
  /** The connection for the n-th connection attempt: fail over by returning another target. */
  private readonly connectionFor: (attempt: number) => Client;
  private attempts = 0;
  private readonly options: DeviceOptions;
  private readonly stats: FleetStats;
  private readonly walk: SensorWalk;
  private readonly pending = new Map<number, PendingBatch>();
  private nextSeq = 1;
  private clockMs: number;
  private call: Call | undefined;
  private welcomed = false;
  private draining = false;
  private inFlight = 0;
  private window = 16;
  private isRunning = false;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private timer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  private readonly behaviour: DeviceBehaviour | undefined;

  constructor(
    identity: DeviceIdentity,
    connectionFor: (attempt: number) => Client,
    options: DeviceOptions,
    stats: FleetStats,
    behaviour?: DeviceBehaviour,
  ) {
    this.identity = identity;
    this.behaviour = behaviour;
    this.connectionFor = connectionFor;
    this.options = options;
    this.stats = stats;
    this.walk = new SensorWalk(DEVICE_KINDS[kindForCode(identity.code)], hash(`${identity.code}-${identity.number}`));
    this.clockMs = Date.now() - (options.clock === "fast" ? FAST_CLOCK_START_MS : 0);
  }

  /** Position of a sensor in this device's batches, or -1. */
  sensorIndex(name: string): number {
    return this.walk.specs.findIndex((s) => s.name === name);
  }

  sensorNames(): string[] {
    return this.walk.specs.map((s) => s.name);
  }

  sensorSigma(index: number): number {
    return this.walk.sigmas[index]!;
  }

  get connected(): boolean {
    return this.welcomed;
  }

  get unacked(): number {
    return this.pending.size;
  }

  /** Between start() and stop() (or a refused key). */
  get running(): boolean {
    return this.isRunning;
  }

  /** Connects and starts sending; a no-op while running. */
  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    this.reconnectDelay = RECONNECT_FIRST_MS;
    this.connect();
    this.schedule();
  }

  /** Applies a changed `intervalMs` (the options object is the fleet's, shared and mutable). */
  intervalChanged(): void {
    if (this.isRunning) this.schedule();
  }

  /**
   * Realtime clock: one batch per interval, from a random phase, so a fleet
   * started at once spreads its batches over the interval instead of sending
   * them all in the same millisecond.
   */
  private schedule(): void {
    if (this.options.clock !== "realtime") return;
    clearInterval(this.timer);
    clearTimeout(this.timer);
    const every = this.options.intervalMs;
    const tick = () => {
      this.generate();
      this.flush();
    };
    this.timer = setTimeout(
      () => {
        tick();
        this.timer = setInterval(tick, every);
      },
      Math.floor(Math.random() * every),
    );
  }

  /** Stops generating, waits (bounded) for outstanding acks, then closes. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.isRunning = false;
    const behaviourStopped = this.behaviour?.stop().catch(() => {});
    clearInterval(this.timer);
    clearTimeout(this.timer);
    clearTimeout(this.reconnectTimer);
    if (this.pending.size > 0 && this.welcomed) {
      await Promise.race([
        new Promise<void>((r) => this.idleWaiters.push(r)),
        new Promise((r) => setTimeout(r, timeoutMs)),
      ]);
    }
    const call = this.call;
    this.call = undefined;
    this.welcomed = false;
    if (call) {
      call.end();
      call.cancel();
    }
    await behaviourStopped;
  }

  private connect(): void {
    const metadata = new Metadata();
    if (this.identity.apiKey) metadata.set("x-api-key", this.identity.apiKey);
    const call = this.connectionFor(this.attempts++).makeBidiStreamRequest(
      STREAM_PATH,
      (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      (bytes: Buffer) => fromBinary(StreamResponseSchema, bytes),
      metadata,
    ) as Call;
    this.call = call;
    this.welcomed = false;
    this.draining = false;
    this.inFlight = 0;
    for (const p of this.pending.values()) p.sentAt = undefined;
    call.on("data", (response: StreamResponse) => this.onResponse(response));
    call.on("error", (err: Error & { code?: number }) => this.onBroken(call, err));
    call.on("end", () => this.onBroken(call));
    call.write(
      toBinary(
        StreamRequestSchema,
        create(StreamRequestSchema, { kind: { case: "hello", value: { client: "vigil-simulator" } } }),
      ),
    );
  }

  private onResponse(response: StreamResponse): void {
    const now = performance.now();
    switch (response.kind.case) {
      case "welcome": {
        const w = response.kind.value;
        this.welcomed = true;
        this.reconnectDelay = RECONNECT_FIRST_MS;
        this.window = Math.max(1, w.limits?.maxInFlightBatches ?? this.window);
        const lastDurable = Number(w.lastDurableSeq);
        if (lastDurable >= this.nextSeq) this.nextSeq = lastDurable + 1;
        break;
      }
      case "ack": {
        const seq = Number(response.kind.value.seq);
        const p = this.pending.get(seq);
        if (!p) break;
        this.pending.delete(seq);
        this.acked.set(seq, p.readings);
        this.inFlight--;
        this.stats.batchesAcked++;
        this.stats.readingsAcked += p.readings;
        if (response.kind.value.duplicate) this.stats.duplicatesAcked++;
        if (p.sentAt !== undefined) this.stats.recordAck(now - p.sentAt, now);
        p.span.setAttribute("vigil.batch.outcome", response.kind.value.duplicate ? "duplicate" : "acked");
        p.span.end();
        break;
      }
      case "reject": {
        const seq = Number(response.kind.value.seq);
        const p = this.pending.get(seq);
        if (p) {
          this.pending.delete(seq);
          this.inFlight--;
          p.span.setAttribute("vigil.batch.outcome", "rejected");
          p.span.setStatus({ code: SpanStatusCode.ERROR, message: response.kind.value.reason });
          p.span.end();
        }
        this.stats.noteReject(response.kind.value.reason);
        break;
      }
      case "throttle": {
        const { seq, retryAfterMs } = response.kind.value;
        const p = this.pending.get(Number(seq));
        this.stats.throttles++;
        if (!p) break;
        this.inFlight--;
        p.sentAt = undefined;
        this.pauseFor(retryAfterMs);
        return;
      }
      case "drain":
        this.stats.drains++;
        this.draining = true;
        this.reconnectDelay = Math.max(RECONNECT_FIRST_MS, response.kind.value.reconnectAfterMs);
        return;
    }
    if (this.pending.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    if (this.options.clock === "fast") this.generate();
    this.flush();
  }

  private throttledUntil = 0;

  private pauseFor(ms: number): void {
    this.throttledUntil = performance.now() + ms;
    setTimeout(() => this.flush(), ms).unref();
  }

  private onBroken(call: Call, err?: Error & { code?: number }): void {
    if (call !== this.call) return;
    this.call = undefined;
    this.welcomed = false;
    if (err?.code === status.UNAUTHENTICATED) {
      this.authFailedAt = Date.now();
      this.stats.authFailures++;
      this.isRunning = false;
      clearInterval(this.timer);
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    if (!this.isRunning) return;
    this.stats.reconnects++;
    const delay = this.reconnectDelay * (0.5 + Math.random());
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      if (this.isRunning) this.connect();
    }, delay);
  }

  /** Writes unsent batches, oldest first, while the window has room. */
  private flush(): void {
    const call = this.call;
    if (!call || !this.welcomed || this.draining || performance.now() < this.throttledUntil) return;
    for (const [, p] of this.pending) {
      if (this.inFlight >= this.window) break;
      if (p.sentAt !== undefined) continue;
      p.sentAt = performance.now();
      this.inFlight++;
      this.stats.batchesSent++;
      call.write(p.bytes);
    }
  }

  /** Creates batches: one per interval in realtime, enough to fill the window in fast mode. */
  private generate(): void {
    if (!this.isRunning) return;
    const budget = this.options.maxBatches ?? 0;
    const wanted = this.options.clock === "fast" ? this.window - this.inFlight : 1;
    for (let i = 0; i < wanted; i++) {
      if (budget > 0 && this.nextSeq > budget) return;
      if (this.pending.size >= this.options.maxBufferedBatches) {
        this.stats.batchesSkipped++;
        return;
      }
      // Whole milliseconds, at least one apart: times within a series must increase.
      const spacing = Math.max(1, Math.floor(this.options.intervalMs / this.options.samplesPerBatch));
      const span = spacing * this.options.samplesPerBatch;
      const ahead = this.clockMs + span - Date.now();
      if (this.options.clock === "fast" && ahead > 0) {
        // Caught up with the wall clock: try again when it has moved on.
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.generate();
          this.flush();
        }, ahead);
        return;
      }
      if (this.options.clock === "realtime") this.clockMs = Math.max(this.clockMs, Date.now() - span);
      if (this.faults.pending && this.faults.silencedAt(this.clockMs + spacing)) {
        // An injected silence: the readings of this span are never taken.
        this.clockMs += span;
        this.faults.expire(this.clockMs);
        continue;
      }
      this.pending.set(this.nextSeq, this.makeBatch(this.nextSeq++, spacing));
    }
  }

  private makeBatch(seq: number, spacing: number): PendingBatch {
    const n = this.options.samplesPerBatch;
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) times[i] = Math.round(this.clockMs + (i + 1) * spacing);
    this.clockMs = times[n - 1]!;
    const faulty = this.faults.pending;
    const series: ColumnarSeries[] = [];
    this.walk.specs.forEach((spec, index) => {
      const values = new Float64Array(n);
      this.walk.fill(index, values);
      if (faulty && !this.faults.apply(spec.name, this.walk.sigmas[index]!, times, values, spec.decimals)) return;
      series.push({ sensor: spec.name, times, values });
    });
    if (faulty) this.faults.expire(times[n - 1]!);
    if (this.behaviour) series.push(...this.behaviour.series(times));
    const readings = series.reduce((sum, s) => sum + s.times.length, 0);
    // The span travels with the batch (ReadingBatch.traceparent): a stream's
    // metadata is sent once, but each batch is its own trace.
    const span = tracer.startSpan(
      "ingest.batch",
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "vigil.device": `${this.identity.code}-${this.identity.number}`,
          "vigil.batch.seq": seq,
          "vigil.batch.readings": readings,
        },
      },
      ROOT_CONTEXT,
    );
    const { traceparent } = headersFromContext(trace.setSpan(ROOT_CONTEXT, span));
    return { bytes: encodeBatchStreamRequest({ seq, series, traceparent }), readings, sentAt: undefined, span };
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

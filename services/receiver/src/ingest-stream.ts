import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type ServerDuplexStream, status } from "@grpc/grpc-js";
import { type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type AppendResult, type OutgoingBatch, type ReadingBus, SOURCE_HEADER } from "@vigil/bus";
import { type AuthenticatedDevice, deviceLabel } from "@vigil/devices";
import { type BatchLimits, type DeadLetterInput, type Violation, validateBatch } from "@vigil/ingest";
import {
  type ColumnarBatch,
  RejectCode,
  RejectCodeSchema,
  type StreamResponse,
  StreamResponseSchema,
} from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import { contextFromTraceparent, headersFromContext, tracer } from "@vigil/telemetry";
import type { BatchOutcome, ReceiverMetrics } from "./receiver-metrics.ts";
import type { SensorRegistry } from "./sensor-registry.ts";
import type { DecodedRequest } from "./stream-request-codec.ts";

export type IngestCall = ServerDuplexStream<DecodedRequest, StreamResponse>;
type ResponseKind = NonNullable<MessageInitShape<typeof StreamResponseSchema>["kind"]>;

export interface StreamLimits extends BatchLimits {
  maxBatchSeries: number;
  maxInFlightBatches: number;
  /** Largest message a device may send (what Welcome advertises). */
  maxMessageBytes: number;
  /** Largest batch the log takes (JetStream's max_payload, less room for headers). */
  maxAppendBytes: number;
  /** A stream must send Hello within this time. */
  helloTimeoutMs: number;
  /** Rejected batches and undecodable messages in a row (no batch stored between) before the stream is closed. */
  maxRejects: number;
  /** New sensor names a device may add per window (advertised in Welcome). */
  maxNewSensors: number;
  newSensorsWindowMs: number;
}

/** What every stream of a receiver shares. */
export interface StreamContext {
  bus: ReadingBus;
  logger: Logger;
  limits: StreamLimits;
  now: () => number;
  /** Highest seq of the device the writers have stored. */
  lastWrittenSeq: (deviceId: number) => Promise<number>;
  /** 0 when the device may send `readings` now (and spends them), else the ms to wait. */
  takeTokens: (device: AuthenticatedDevice, readings: number) => number;
  /** Spends tokens for a batch answered without waiting (a duplicate, a reject), into debt if need be. */
  chargeTokens: (device: AuthenticatedDevice, readings: number) => void;
  /** The sensor names known to be in the dictionary; registers new ones within the device's quota. */
  sensors: SensorRegistry;
  /** Keeps a refused batch; failures are logged, never fatal to the stream. */
  deadLetter: (input: DeadLetterInput) => Promise<void>;
  metrics: ReceiverMetrics;
}

interface Admitted {
  seq: number;
  bytes: Uint8Array;
  readings: number;
  /** Sensor names to register before the batch is appended (new to this receiver). */
  newSensors?: string[];
  /** The batch's ingest.receive span, ended when it is acked (or the stream ends). */
  span: Span;
  admittedAt: number;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * One device's stream. Hello → Welcome{last_durable_seq}; then every batch
 * costs tokens (at least one, whatever its answer), is validated and either
 * rejected (kept as a dead letter), throttled, acked as a duplicate, or
 * queued and appended to the log. A batch is acked only when nothing known
 * stands between it and `readings`: it passed every rule the database
 * enforces, fits the log, and its sensor names are in the dictionary
 * (registered here, within the device's quota, before the append).
 * Rejects count: after `maxRejects` in a row (no batch stored between) the
 * stream is closed.
 *
 * Appends run one at a time, in seq order, each retried until it succeeds
 * or the stream ends: so the log never holds a batch of this device while
 * an earlier one is missing, which is what makes "seq ≤ last durable ⇒
 * already stored" true across reconnects. The device may still send up to
 * `maxInFlightBatches` ahead; beyond that (or a message's worth of bytes),
 * or while the device does not read its answers, the stream is not read
 * and HTTP/2 flow control holds the device back.
 */
export class IngestStream {
  readonly device: AuthenticatedDevice;
  private readonly call: IngestCall;
  private readonly ctx: StreamContext;
  private readonly log: Logger;
  private readonly end = Promise.withResolvers<void>();
  private readonly queue: Admitted[] = [];
  private queuedBytes = 0;
  private welcomed = false;
  /** Batches up to this seq are stored already: acked as duplicates, not appended again. */
  private durableThrough = 0;
  /** Highest seq this stream has admitted, rejected or acked. */
  private lastSeen = 0;
  /**
   * Seqs throttled and not yet resent, ascending. While any is waiting, only
   * the first may pass; every other batch is throttled (and remembered) too,
   * so the log never gets a later batch before an earlier one: no gaps.
   */
  private readonly throttled: number[] = [];
  private throttledUntil = 0;
  private appending = false;
  private inputEnded = false;
  private draining = false;
  private closed = false;
  private appendFailing = false;
  /** Answers the device has not taken yet: reading waits until they drain. */
  private writeBlocked = false;
  /** Rejects since the last batch this stream got stored (duplicates do not count as stored). */
  private rejects = 0;
  private readonly helloTimer: NodeJS.Timeout;
  /** The trace context a device sent in the stream's metadata: the parent of batches that carry none. */
  private readonly streamTrace: Context;

  /** reading_sources id of this stream's credential at this receiver, sent with every batch (provenance). */
  private readonly sourceHeader: string;

  constructor(call: IngestCall, device: AuthenticatedDevice, ctx: StreamContext, sourceId: number) {
    this.call = call;
    this.device = device;
    this.sourceHeader = String(sourceId);
    this.ctx = ctx;
    this.log = ctx.logger.child({ device: deviceLabel(device) });
    this.streamTrace = contextFromTraceparent(
      metadataText(call.metadata.get("traceparent")),
      metadataText(call.metadata.get("tracestate")),
    );
    this.helloTimer = setTimeout(
      () => this.abort(status.DEADLINE_EXCEEDED, `no Hello within ${ctx.limits.helloTimeoutMs} ms`),
      ctx.limits.helloTimeoutMs,
    );
    call.on("data", (request: DecodedRequest) => this.onRequest(request));
    call.on("end", () => {
      this.inputEnded = true;
      this.finishIfIdle();
    });
    for (const event of ["cancelled", "close", "error"]) call.on(event, () => this.onClosed());
    this.log.debug({ peer: call.getPeer() }, "stream opened");
  }

  /** Resolves when the stream has ended for any reason. */
  get ended(): Promise<void> {
    return this.end.promise;
  }

  /** Asks the device to move elsewhere, stops reading and ends once the queue is appended. */
  drain(reconnectAfterMs: number): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.write({ case: "drain", value: { reconnectAfterMs } });
    this.flow();
    this.finishIfIdle();
  }

  /**
   * Ends the stream with an error status now. Batches still queued are
   * dropped unacked (the device resends them elsewhere, if it may).
   */
  abort(code: status, details: string): void {
    if (this.closed) return;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.call.emit("error", { code, details });
    this.onClosed();
  }

  private onRequest(request: DecodedRequest): void {
    if (this.closed) return;
    switch (request.kind) {
      case "hello":
        void this.welcome();
        break;
      case "batch":
        if (this.welcomed) this.onBatch(request.batch, request.bytes);
        else this.abort(status.FAILED_PRECONDITION, "send Hello before the first batch");
        break;
      case "malformed":
        this.onMalformed(request.reason, request.bytes);
        break;
      case "over_limit":
        if (!this.welcomed) {
          this.abort(status.FAILED_PRECONDITION, "send Hello before the first batch");
          break;
        }
        this.ctx.chargeTokens(this.device, 1);
        this.reject(
          request.seq,
          request.code,
          request.reason,
          [],
          request.bytes,
          tracer.startSpan("ingest.receive"),
          0,
        );
        break;
      case "empty":
        this.onMalformed("message has neither hello nor batch", new Uint8Array());
        break;
    }
  }

  private async welcome(): Promise<void> {
    clearTimeout(this.helloTimer);
    if (this.welcomed) return;
    const { bus, lastWrittenSeq, limits } = this.ctx;
    try {
      // The log holds the batches not yet written; the database knows the rest.
      const [inLog, written] = await Promise.all([bus.last(this.device), lastWrittenSeq(this.device.id)]);
      this.durableThrough = Math.max(inLog?.seq ?? 0, written);
    } catch (err) {
      this.log.warn({ err }, "could not read the last durable seq");
      this.abort(status.UNAVAILABLE, "the log is unavailable, reconnect later");
      return;
    }
    if (this.closed) return;
    this.welcomed = true;
    this.lastSeen = this.durableThrough;
    this.write({
      case: "welcome",
      value: {
        device: deviceLabel(this.device),
        lastDurableSeq: BigInt(this.durableThrough),
        limits: {
          maxBatchReadings: limits.maxBatchReadings,
          maxInFlightBatches: limits.maxInFlightBatches,
          maxMessageBytes: Math.min(limits.maxMessageBytes, limits.maxAppendBytes),
          maxBatchSeries: limits.maxBatchSeries,
          maxNewSensors: limits.maxNewSensors,
          newSensorsWindowMs: limits.newSensorsWindowMs,
        },
      },
    });
  }

  private onBatch(batch: ColumnarBatch, bytes: Uint8Array): void {
    const seq = batch.seq;
    let readings = 0;
    for (const s of batch.series) readings += s.values.length;
    // Child of the device's batch span when the batch carries a traceparent,
    // else of the context the device gave the whole stream (if any).
    const span = tracer.startSpan(
      "ingest.receive",
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "vigil.device": deviceLabel(this.device),
          "vigil.batch.seq": seq,
          "vigil.batch.readings": readings,
        },
      },
      batch.traceparent ? contextFromTraceparent(batch.traceparent) : this.streamTrace,
    );
    // Every batch the stream looks at costs tokens, at least one, whatever the answer:
    // empty batches, duplicates and rejects included.
    const cost = Math.max(1, readings);
    const head = this.throttled[0];
    if (head !== undefined && seq > head) {
      // Not looked at: it waits behind the throttled one, and is charged when it passes.
      this.rememberThrottled(seq);
      this.throttle(seq, Math.max(1, this.throttledUntil - this.ctx.now()), span, readings);
      return;
    }
    if (seq >= 1 && seq <= this.durableThrough) {
      this.ctx.chargeTokens(this.device, cost);
      this.write({ case: "ack", value: { seq: BigInt(seq), duplicate: true } });
      this.settle(span, "duplicate", readings);
      return;
    }
    if (seq !== head && seq >= 1 && seq <= this.lastSeen) {
      this.ctx.chargeTokens(this.device, cost);
      this.reject(
        seq,
        RejectCode.BAD_SEQ,
        `seq ${seq} is not above ${this.lastSeen}, the last seq seen on this stream`,
        [{ field: "seq", description: "seq must increase with every batch" }],
        bytes,
        span,
        readings,
      );
      return;
    }
    const wait = this.ctx.takeTokens(this.device, cost);
    if (wait > 0) {
      this.rememberThrottled(seq);
      this.throttledUntil = this.ctx.now() + wait;
      this.throttle(seq, wait, span, readings);
      return;
    }
    if (seq === head) this.throttled.shift();
    this.lastSeen = Math.max(this.lastSeen, seq);
    const verdict = validateBatch(batch, this.ctx.limits, this.ctx.now());
    if (!verdict.ok) {
      this.reject(seq, verdict.code, verdict.reason, verdict.violations, bytes, span, readings);
      return;
    }
    if (bytes.length > this.ctx.limits.maxAppendBytes) {
      // The log would refuse it on every retry: refused here, never acked.
      this.reject(
        seq,
        RejectCode.TOO_LARGE,
        `batch is ${bytes.length} bytes, the log takes at most ${this.ctx.limits.maxAppendBytes}: send smaller batches`,
        [{ field: "batch", description: `${bytes.length} bytes > ${this.ctx.limits.maxAppendBytes}` }],
        bytes,
        span,
        readings,
      );
      return;
    }
    const newSensors = this.ctx.sensors.unknownNames(batch);
    this.queue.push({
      seq,
      bytes,
      readings,
      span,
      admittedAt: performance.now(),
      ...(newSensors.length > 0 ? { newSensors } : {}),
    });
    this.queuedBytes += bytes.length;
    this.flow();
    void this.appendQueued();
  }

  /**
   * Reads from the device only while it has room: fewer than
   * `maxInFlightBatches` batches (and a message's worth of bytes) waiting,
   * its answers taken, and the stream not draining.
   */
  private flow(): void {
    const { maxInFlightBatches, maxMessageBytes } = this.ctx.limits;
    const hold =
      this.draining ||
      this.writeBlocked ||
      this.queue.length >= maxInFlightBatches ||
      this.queuedBytes >= maxMessageBytes;
    if (hold) this.call.pause();
    else this.call.resume();
  }

  /** Adds a throttled seq, in order; a device that never resends them is cut off. */
  private rememberThrottled(seq: number): void {
    const at = this.throttled.findIndex((s) => s >= seq);
    if (at === -1) this.throttled.push(seq);
    else if (this.throttled[at] !== seq) this.throttled.splice(at, 0, seq);
    if (this.throttled.length > 4 * this.ctx.limits.maxInFlightBatches) {
      this.abort(
        status.RESOURCE_EXHAUSTED,
        "too many throttled batches waiting: resend them, oldest first, before new ones",
      );
    }
  }

  /**
   * Appends queued batches one at a time, in order; acks each once durable.
   * A batch with new sensor names has them registered first; one whose
   * names the dictionary cannot take is rejected instead, never acked.
   */
  private async appendQueued(): Promise<void> {
    if (this.appending) return;
    this.appending = true;
    try {
      for (let next = this.queue[0]; next && !this.closed; next = this.queue[0]) {
        if (next.newSensors) {
          const registered = await this.untilDecided(next.seq, "sensor registration", () =>
            this.ctx.sensors.register(this.device.id, next!.newSensors!),
          );
          if (this.closed) break;
          if (!registered.ok) {
            this.dequeue(next);
            this.reject(
              next.seq,
              RejectCode.SENSOR_LIMIT,
              registered.reason,
              [{ field: "series", description: registered.reason }],
              next.bytes,
              next.span,
              next.readings,
            );
            continue;
          }
        }
        const result = await this.append(next);
        if (this.closed) break;
        this.write({ case: "ack", value: { seq: BigInt(next.seq), duplicate: result.duplicate } });
        if (!result.duplicate) this.rejects = 0;
        this.ctx.metrics.appendSeconds.observe((performance.now() - next.admittedAt) / 1000);
        this.settle(next.span, result.duplicate ? "duplicate" : "acked", next.readings);
        this.dequeue(next);
      }
    } catch {
      // The stream ended while an append was failing; the device resends what it saw unacked.
    } finally {
      for (const left of this.closed ? this.queue : []) left.span.end();
      this.appending = false;
      this.finishIfIdle();
    }
  }

  private dequeue(item: Admitted): void {
    this.queue.shift();
    this.queuedBytes -= item.bytes.length;
    if (!this.closed) this.flow();
  }

  /**
   * Appends one admitted batch inside a producer span whose context travels
   * in the message headers, so the writer's spans link back to it.
   */
  private async append(item: Admitted): Promise<AppendResult> {
    const subject = `vigil.readings.${this.device.code}.${this.device.number}`;
    const send = tracer.startSpan(
      "send vigil.readings",
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "send",
          "messaging.destination.name": subject,
          "messaging.message.id": `${deviceLabel(this.device)}:${item.seq}`,
          "vigil.batch.seq": item.seq,
        },
      },
      trace.setSpan(ROOT_CONTEXT, item.span),
    );
    try {
      const headers = headersFromContext(trace.setSpan(ROOT_CONTEXT, send));
      headers[SOURCE_HEADER] = this.sourceHeader;
      return await this.appendUntilDurable({ device: this.device, seq: item.seq, payload: item.bytes, headers });
    } catch (err) {
      send.setStatus({ code: SpanStatusCode.ERROR, message: "stream ended before the batch was durable" });
      throw err;
    } finally {
      send.end();
    }
  }

  private appendUntilDurable(out: OutgoingBatch): Promise<AppendResult> {
    return this.untilDecided(
      out.seq,
      "append",
      () => this.ctx.bus.append(out),
      () => this.ctx.metrics.appendFailures.inc(),
    );
  }

  /**
   * Runs `work` until it gives an answer, retrying failures (the log or the
   * database is down) with backoff while the stream lasts; the batch stays
   * unacked meanwhile. Throws once the stream has ended.
   */
  private async untilDecided<T>(seq: number, what: string, work: () => Promise<T>, onFailure?: () => void): Promise<T> {
    let delay = RETRY_FIRST_MS;
    for (;;) {
      try {
        const result = await work();
        if (this.appendFailing) {
          this.appendFailing = false;
          this.log.info({ seq }, `${what} succeeds again`);
        }
        return result;
      } catch (err) {
        onFailure?.();
        if (this.closed) throw err;
        if (!this.appendFailing) {
          this.appendFailing = true;
          this.log.warn({ err, seq }, `${what} failed, retrying until it succeeds`);
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        if (this.closed) throw err;
      }
    }
  }

  private onMalformed(reason: string, bytes: Uint8Array): void {
    if (this.welcomed) this.ctx.chargeTokens(this.device, 1);
    this.reject(0, RejectCode.INVALID_BATCH, reason, [], bytes, tracer.startSpan("ingest.receive"), 0);
  }

  private throttle(seq: number, retryAfterMs: number, span: Span, readings: number): void {
    this.write({ case: "throttle", value: { seq: BigInt(seq), retryAfterMs } });
    span.setAttribute("vigil.retry_after_ms", retryAfterMs);
    this.settle(span, "throttled", readings);
  }

  /** Counts a batch's outcome and ends its span. */
  private settle(span: Span, outcome: BatchOutcome, readings: number): void {
    this.ctx.metrics.batches.inc({ outcome });
    this.ctx.metrics.readings.inc({ outcome }, readings);
    span.setAttribute("vigil.batch.outcome", outcome);
    span.end();
  }

  private reject(
    seq: number,
    code: RejectCode,
    reason: string,
    violations: Violation[],
    bytes: Uint8Array,
    span: Span,
    readings: number,
  ): void {
    const codeName = RejectCodeSchema.values.find((v) => v.number === code)?.name ?? String(code);
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => this.log.info({ seq, code, reason }, "batch rejected"));
    this.write({ case: "reject", value: { seq: BigInt(seq), code, reason, violations } });
    this.ctx.metrics.rejects.inc({ code: codeName });
    span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    this.settle(span, "rejected", readings);
    void this.ctx.deadLetter({
      deviceId: this.device.id,
      seq: seq || null,
      source: "receiver",
      code: codeName,
      reason,
      violations,
      payload: bytes,
    });
    this.rejects++;
    if (this.rejects >= this.ctx.limits.maxRejects) {
      this.abort(
        status.INVALID_ARGUMENT,
        `${this.rejects} batches or messages rejected in a row on this stream: fix what the rejects say, then reconnect`,
      );
    }
  }

  private finishIfIdle(): void {
    if (this.closed || this.appending || this.queue.length > 0) return;
    if (this.inputEnded || this.draining) {
      this.closed = true;
      clearTimeout(this.helloTimer);
      this.call.end();
      this.end.resolve();
    }
  }

  private write(kind: ResponseKind): void {
    if (this.closed || this.call.destroyed || this.call.writableEnded) return;
    if (this.call.write(create(StreamResponseSchema, { kind })) || this.writeBlocked) return;
    // The device is not reading its answers: stop reading its batches until it does.
    this.writeBlocked = true;
    this.call.pause();
    this.call.once("drain", () => {
      this.writeBlocked = false;
      if (!this.closed) this.flow();
    });
  }

  private onClosed(): void {
    if (!this.closed) this.log.debug({ lastSeen: this.lastSeen, unappended: this.queue.length }, "stream ended");
    this.closed = true;
    clearTimeout(this.helloTimer);
    this.end.resolve();
  }
}

/** The first value of a gRPC metadata entry, when it is text. */
function metadataText(values: (string | Buffer)[]): string | undefined {
  const first = values[0];
  return typeof first === "string" ? first : undefined;
}

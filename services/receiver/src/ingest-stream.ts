import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Metadata, type ServerDuplexStream, status } from "@grpc/grpc-js";
import type { AppendResult, OutgoingBatch, ReadingBus } from "@vigil/bus";
import { type Device, deviceLabel } from "@vigil/devices";
import { type ColumnarBatch, RejectCode, type StreamResponse, StreamResponseSchema } from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import type { DecodedRequest } from "./stream-request-codec.ts";
import { type BatchLimits, validateBatch } from "./validate-batch.ts";

export type IngestCall = ServerDuplexStream<DecodedRequest, StreamResponse>;
type ResponseKind = NonNullable<MessageInitShape<typeof StreamResponseSchema>["kind"]>;

/** What every stream of a receiver shares. */
export interface StreamContext {
  bus: ReadingBus;
  logger: Logger;
  limits: BatchLimits & { maxInFlightBatches: number; maxMessageBytes: number };
  now: () => number;
  /** Highest seq of the device the writers have stored. */
  lastWrittenSeq: (deviceId: number) => Promise<number>;
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 2_000;

/**
 * One device's stream: Hello → Welcome, then each batch validated and made
 * durable (Ack only after JetStream's PubAck) or rejected with reasons. At
 * most `maxInFlightBatches` batches wait for JetStream; beyond that the
 * stream stops reading and HTTP/2 flow control pushes back on the device.
 * A failed append is retried until it succeeds or the stream ends, so a
 * NATS outage pauses devices instead of losing or double-counting data.
 */
export class IngestStream {
  readonly device: Device;
  private readonly call: IngestCall;
  private readonly ctx: StreamContext;
  private readonly log: Logger;
  private welcomed = false;
  private inFlight = 0;
  private inputEnded = false;
  private draining = false;
  private closed = false;
  private appendFailing = false;

  constructor(call: IngestCall, device: Device, ctx: StreamContext) {
    this.call = call;
    this.device = device;
    this.ctx = ctx;
    this.log = ctx.logger.child({ device: deviceLabel(device) });
    call.on("data", (request: DecodedRequest) => this.onRequest(request));
    call.on("end", () => {
      this.inputEnded = true;
      this.finishIfIdle();
    });
    call.on("cancelled", () => this.onClosed());
    call.on("close", () => this.onClosed());
    call.on("error", () => this.onClosed());
  }

  private readonly end = Promise.withResolvers<void>();

  /** Resolves when the stream has ended for any reason. */
  get ended(): Promise<void> {
    return this.end.promise;
  }

  /** Asks the device to move elsewhere, stops reading and ends once acks are out. */
  drain(reconnectAfterMs: number): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.write({ case: "drain", value: { reconnectAfterMs } });
    this.call.pause();
    this.finishIfIdle();
  }

  /** Ends the stream with an error status now (shutdown overran, key revoked). */
  abort(code: status, details: string): void {
    if (this.closed) return;
    this.call.emit("error", { code, details, metadata: undefined as unknown as Metadata });
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
        this.reject(0, RejectCode.INVALID_BATCH, request.reason, []);
        break;
      case "empty":
        this.reject(0, RejectCode.INVALID_BATCH, "message has neither hello nor batch", []);
        break;
    }
  }

  private async welcome(): Promise<void> {
    const { limits } = this.ctx;
    let lastDurableSeq = 0;
    try {
      // The log holds batches not yet written; the database knows the rest.
      const [inLog, written] = await Promise.all([
        this.ctx.bus.last(this.device),
        this.ctx.lastWrittenSeq(this.device.id),
      ]);
      lastDurableSeq = Math.max(inLog?.seq ?? 0, written);
    } catch (err) {
      this.log.warn({ err }, "could not read last durable seq");
      return this.abort(status.UNAVAILABLE, "the log is unavailable, reconnect later");
    }
    this.welcomed = true;
    this.write({
      case: "welcome",
      value: {
        device: deviceLabel(this.device),
        lastDurableSeq: BigInt(lastDurableSeq),
        limits: {
          maxBatchReadings: limits.maxBatchReadings,
          maxInFlightBatches: limits.maxInFlightBatches,
          maxMessageBytes: limits.maxMessageBytes,
        },
      },
    });
  }

  private onBatch(batch: ColumnarBatch, bytes: Uint8Array): void {
    const verdict = validateBatch(batch, this.ctx.limits, this.ctx.now());
    if (!verdict.ok) {
      this.reject(batch.seq, verdict.code, verdict.reason, verdict.violations);
      return;
    }
    this.inFlight++;
    if (this.inFlight >= this.ctx.limits.maxInFlightBatches) this.call.pause();
    const out: OutgoingBatch = { device: this.device, seq: batch.seq, payload: bytes };
    this.appendUntilDurable(out).then(
      (result) => {
        this.write({ case: "ack", value: { seq: BigInt(batch.seq), duplicate: result.duplicate } });
        this.settled();
      },
      () => this.settled(), // the stream ended first; the device resends what it saw unacked
    );
  }

  private async appendUntilDurable(out: OutgoingBatch): Promise<AppendResult> {
    let delay = RETRY_FIRST_MS;
    for (;;) {
      try {
        const result = await this.ctx.bus.append(out);
        if (this.appendFailing) {
          this.appendFailing = false;
          this.log.info({ seq: out.seq }, "appends succeed again");
        }
        return result;
      } catch (err) {
        if (this.closed) throw err;
        if (!this.appendFailing) {
          this.appendFailing = true;
          this.log.warn({ err, seq: out.seq }, "append failed, retrying until it succeeds");
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        if (this.closed) throw err;
      }
    }
  }

  private settled(): void {
    this.inFlight--;
    if (!this.draining && this.inFlight < this.ctx.limits.maxInFlightBatches) this.call.resume();
    this.finishIfIdle();
  }

  private reject(
    seq: number,
    code: RejectCode,
    reason: string,
    violations: Array<{ field: string; description: string }>,
  ): void {
    this.log.info({ seq, code, reason }, "batch rejected");
    this.write({ case: "reject", value: { seq: BigInt(seq), code, reason, violations } });
  }

  private finishIfIdle(): void {
    if (this.closed || this.inFlight > 0) return;
    if (this.inputEnded || this.draining) {
      this.closed = true;
      this.call.end();
      this.end.resolve();
    }
  }

  private write(kind: ResponseKind): void {
    if (this.closed || this.call.destroyed || this.call.writableEnded) return;
    this.call.write(create(StreamResponseSchema, { kind }));
  }

  private onClosed(): void {
    this.closed = true;
    this.end.resolve();
  }
}

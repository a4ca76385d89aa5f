import type { AlertFeed, FeedSettings } from "./alert-feed.ts";
import type { DeviceEvents } from "./device-events.ts";
import type { UserEvents } from "./user-events.ts";

/**
 * The durable log between receivers and writers: one subject per device,
 * each message one ReadingBatch exactly as the device encoded it.
 * JetStream in production; an in-process twin for the quick start.
 */
export interface ReadingBus {
  /**
   * Makes a batch durable. Resolves only once it is stored (for JetStream:
   * after the PubAck), with `duplicate` set when a batch with the same
   * device and seq was stored within the dedup window. Rejects when the
   * batch could not be stored; the caller must not ack it then.
   */
  append(batch: OutgoingBatch): Promise<AppendResult>;
  /** The newest stored batch of a device, or undefined when there is none. */
  last(device: DeviceAddress): Promise<StoredBatch | undefined>;
  /**
   * Joins the shared durable consumer: every stored batch is delivered to
   * one of the consumers until it is acked (or terminated), redelivered
   * after a nak or an ack timeout however many times it takes: an acked
   * batch is never dropped for having been delivered often.
   */
  consume(options: ConsumeOptions): BatchConsumer;
  /** Live tail of new batches of the matching devices; nothing durable. */
  watch(filter: WatchFilter): BatchWatch;
  /**
   * The alerters' feed: created (or brought to these settings) on first
   * call. It copies every batch from the log without ever holding the log
   * back (AlertFeed).
   */
  openFeed(settings: FeedSettings): Promise<AlertFeed>;
  /** Device changes fanned out to every receiver, on the same connection. */
  readonly deviceEvents: DeviceEvents;
  /** Users' token-version changes fanned out to every query replica, on the same connection. */
  readonly userEvents: UserEvents;
  /** True while the connection to the log is up. */
  isConnected(): boolean;
  /**
   * The largest batch payload the log takes (for JetStream: the server's
   * max_payload, less room for headers). A larger one would fail every append.
   */
  maxPayloadBytes(): number;
  /** The writers' consumer: batches not yet delivered, delivered but unacked, redelivered. */
  backlog(): Promise<Backlog>;
  /** Stops after in-flight appends settle. */
  close(): Promise<void>;
}

/** Which device a batch belongs to. */
export interface DeviceAddress {
  /** Database id, carried so the writer needs no lookup. */
  id: number;
  code: string;
  number: number;
}

export interface OutgoingBatch {
  device: DeviceAddress;
  seq: number;
  /** Dedup id; `<code>-<number>:<seq>` unless given (a replay must not be taken for a duplicate). */
  messageId?: string;
  /** Encoded vigil.ingest.v1.ReadingBatch, as validated by the receiver. */
  payload: Uint8Array;
  /** Extra headers, such as `traceparent`. */
  headers?: Record<string, string>;
}

export interface AppendResult {
  duplicate: boolean;
}

export interface StoredBatch {
  device: DeviceAddress;
  seq: number;
  payload: Uint8Array;
  /** When the log stored it, in milliseconds since the epoch. */
  storedAtMs: number;
  headers: Record<string, string>;
}

/** A batch delivered to a consumer, to ack once it is committed. */
export interface Delivery extends StoredBatch {
  /** 1 on first delivery. */
  deliveryCount: number;
  /** The batch is handled; it will not be delivered again. */
  ack(): void;
  /** Deliver again after the delay. */
  nak(delayMs?: number): void;
  /** Never deliver again (after it was set aside as a dead letter). */
  term(): void;
  /** Still being handled: postpone redelivery by another ack wait. */
  inProgress(): void;
}

export interface ConsumeOptions {
  /** Deliveries buffered ahead of the consumer. */
  prefetch: number;
}

/** An async stream of deliveries; stop() ends the iteration. */
export interface BatchConsumer extends AsyncIterable<Delivery> {
  stop(): Promise<void>;
}

export interface WatchFilter {
  /** Only this device code; all codes when unset. */
  code?: string;
  /** Only this device number (of any code unless code is set). */
  number?: number;
}

export interface BatchWatch extends AsyncIterable<StoredBatch> {
  stop(): void;
}

export interface Backlog {
  /** Stored batches not yet delivered to any writer. */
  pending: number;
  /** Delivered, not yet acked. */
  ackPending: number;
  /** Delivered more than once and not yet acked. */
  redelivered: number;
}

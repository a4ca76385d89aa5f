import { LatencyHistogram } from "./latency-histogram.ts";

/** Length of one window of recent ack latencies; the recent figures cover the last one to two. */
export const RECENT_WINDOW_MS = 10_000;

/** Counters one fleet shares across its devices. */
export class FleetStats {
  batchesSent = 0;
  batchesAcked = 0;
  duplicatesAcked = 0;
  readingsAcked = 0;
  batchesRejected = 0;
  throttles = 0;
  reconnects = 0;
  drains = 0;
  /** Batches not generated because a device's resend buffer was full. */
  batchesSkipped = 0;
  authFailures = 0;
  /** Every ack since the start. */
  readonly ackLatency = new LatencyHistogram();
  readonly rejectReasons = new Map<string, number>();
  private current = new LatencyHistogram();
  private previous = new LatencyHistogram();
  private windowStart = 0;

  /** Records an ack's latency, in the running total and in the recent windows. */
  recordAck(ms: number, now = performance.now()): void {
    this.rotate(now);
    this.ackLatency.record(ms);
    this.current.record(ms);
  }

  /** Ack latencies of the last 10 to 20 seconds: what the fleet sees now, not since it started. */
  recentAckLatency(now = performance.now()): LatencyHistogram {
    this.rotate(now);
    const recent = new LatencyHistogram();
    recent.merge(this.previous);
    recent.merge(this.current);
    return recent;
  }

  private rotate(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < RECENT_WINDOW_MS) return;
    const spare = this.previous;
    this.previous = this.current;
    this.current = spare;
    this.current.reset();
    // Nothing recorded for a whole window: the older one is stale too.
    if (elapsed >= 2 * RECENT_WINDOW_MS) this.previous.reset();
    this.windowStart = now;
  }

  noteReject(reason: string): void {
    this.batchesRejected++;
    const key = reason.slice(0, 120);
    this.rejectReasons.set(key, (this.rejectReasons.get(key) ?? 0) + 1);
  }
}

export interface FleetSummary {
  devices: number;
  /** Devices started and not stopped. */
  running: number;
  /** Devices holding a welcomed stream. */
  connected: number;
  /** HTTP/2 connections (grpc-js clients) the devices share. */
  connections: number;
  sent: number;
  acked: number;
  duplicatesAcked: number;
  readingsAcked: number;
  rejected: number;
  throttled: number;
  reconnects: number;
  drains: number;
  skipped: number;
  authFailures: number;
  unacked: number;
  /** Since the start. */
  ackLatencyMs: { p50: number; p99: number };
  /** Over the last 10 to 20 seconds. */
  recentAckLatencyMs: { p50: number; p99: number };
  rejectReasons: Record<string, number>;
}

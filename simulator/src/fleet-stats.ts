import { LatencyHistogram } from "./latency-histogram.ts";

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
  readonly ackLatency = new LatencyHistogram();
  readonly rejectReasons = new Map<string, number>();

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
  ackLatencyMs: { p50: number; p99: number };
  rejectReasons: Record<string, number>;
}

import { LATENCY_BUCKETS_S, metricsRegistry } from "@vigil/telemetry";
import { Counter, Gauge, Histogram } from "prom-client";

/** What happened to a batch. */
export type BatchOutcome = "acked" | "duplicate" | "rejected" | "throttled";

/**
 * The receiver's Prometheus metrics (names and units in docs/telemetry.md).
 * Created once per process; every receiver app in it shares them.
 */
export interface ReceiverMetrics {
  batches: Counter<"outcome">;
  readings: Counter<"outcome">;
  rejects: Counter<"code">;
  appendSeconds: Histogram;
  appendFailures: Counter;
  authFailures: Counter<"reason">;
  streamsOpened: Counter;
  deadLettersSkipped: Counter<"reason">;
}

let metrics: ReceiverMetrics | undefined;
/** Every receiver app in this process reports its open streams here. */
const streamCounters = new Set<() => number>();

/** Counts a receiver's open streams in vigil_receiver_streams until the returned function is called. */
export function trackOpenStreams(count: () => number): () => void {
  streamCounters.add(count);
  return () => streamCounters.delete(count);
}

export function receiverMetrics(): ReceiverMetrics {
  if (metrics) return metrics;
  const registers = [metricsRegistry()];
  new Gauge({
    name: "vigil_receiver_streams",
    help: "Device streams open on this receiver.",
    registers,
    collect() {
      let open = 0;
      for (const count of streamCounters) open += count();
      this.set(open);
    },
  });
  metrics = {
    batches: new Counter({
      name: "vigil_receiver_batches_total",
      help: "Batches answered, by outcome: acked, duplicate (acked, already stored), rejected, throttled.",
      labelNames: ["outcome"],
      registers,
    }),
    readings: new Counter({
      name: "vigil_receiver_readings_total",
      help: "Readings in answered batches, by outcome.",
      labelNames: ["outcome"],
      registers,
    }),
    rejects: new Counter({
      name: "vigil_receiver_rejects_total",
      help: "Rejected batches and malformed messages, by reject code.",
      labelNames: ["code"],
      registers,
    }),
    appendSeconds: new Histogram({
      name: "vigil_receiver_append_duration_seconds",
      help: "Time from admitting a batch to JetStream's PubAck, retries included.",
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    appendFailures: new Counter({
      name: "vigil_receiver_append_failures_total",
      help: "Failed append attempts (each retried until it succeeds or its stream ends).",
      registers,
    }),
    authFailures: new Counter({
      name: "vigil_receiver_auth_failures_total",
      help: "Streams refused or closed for their key, by reason: missing, invalid, revoked, disabled.",
      labelNames: ["reason"],
      registers,
    }),
    streamsOpened: new Counter({
      name: "vigil_receiver_streams_opened_total",
      help: "Device streams accepted.",
      registers,
    }),
    deadLettersSkipped: new Counter({
      name: "vigil_receiver_dead_letters_skipped_total",
      help: "Rejected batches answered but not stored as dead letters, by reason: quota (the device's daily quota), backlog (too many writes waiting).",
      labelNames: ["reason"],
      registers,
    }),
  };
  return metrics;
}

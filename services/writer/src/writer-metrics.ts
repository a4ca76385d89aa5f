import type { Backlog } from "@vigil/bus";
import { LATENCY_BUCKETS_S, metricsRegistry } from "@vigil/telemetry";
import { Counter, Gauge, Histogram } from "prom-client";

/** The writer's Prometheus metrics (names and units in docs/telemetry.md), once per process. */
export interface WriterMetrics {
  batches: Counter<"outcome">;
  readings: Counter;
  rowsInserted: Counter;
  insertSeconds: Histogram;
  insertReadings: Histogram;
  redeliveries: Counter;
  copyFallbacks: Counter;
  ingestToStoredSeconds: Histogram;
}

let metrics: WriterMetrics | undefined;
const backlogs = new Set<() => Promise<Backlog>>();

/** Reports a writer's consumer backlog in the vigil_writer_consumer_* gauges until the returned function is called. */
export function trackBacklog(read: () => Promise<Backlog>): () => void {
  backlogs.add(read);
  return () => backlogs.delete(read);
}

export function writerMetrics(): WriterMetrics {
  if (metrics) return metrics;
  const registers = [metricsRegistry()];
  const backlogGauge = (name: string, help: string, pick: (b: Backlog) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        // All writers share one consumer: any of them can answer.
        const read = backlogs.values().next().value;
        if (!read) return;
        try {
          this.set(pick(await read()));
        } catch {
          // NATS unreachable: leave the last value; readiness reports the outage.
        }
      },
    });
  backlogGauge(
    "vigil_writer_consumer_pending",
    "Batches in JetStream not yet delivered to a writer.",
    (b) => b.pending,
  );
  backlogGauge(
    "vigil_writer_consumer_ack_pending",
    "Batches delivered to writers and not yet acked.",
    (b) => b.ackPending,
  );
  backlogGauge(
    "vigil_writer_consumer_redelivered",
    "Batches delivered more than once and not yet acked.",
    (b) => b.redelivered,
  );
  metrics = {
    batches: new Counter({
      name: "vigil_writer_batches_total",
      help: "Batches handled, by outcome: stored (committed, duplicates skipped) or dead_lettered.",
      labelNames: ["outcome"],
      registers,
    }),
    readings: new Counter({
      name: "vigil_writer_readings_total",
      help: "Readings in stored batches.",
      registers,
    }),
    rowsInserted: new Counter({
      name: "vigil_writer_rows_inserted_total",
      help: "Rows inserted into readings (readings minus those already stored).",
      registers,
    }),
    insertSeconds: new Histogram({
      name: "vigil_writer_insert_duration_seconds",
      help: "Time of one write transaction (COPY or INSERT), from the first attempt to COMMIT.",
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    insertReadings: new Histogram({
      name: "vigil_writer_insert_readings",
      help: "Readings per write transaction.",
      buckets: [10, 100, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 50_000, 100_000],
      registers,
    }),
    redeliveries: new Counter({
      name: "vigil_writer_redeliveries_total",
      help: "Batches delivered again (after a writer crash, a nak or an ack timeout).",
      registers,
    }),
    copyFallbacks: new Counter({
      name: "vigil_writer_copy_fallbacks_total",
      help: "Groups whose COPY met a reading already stored and were written again with INSERT … ON CONFLICT DO NOTHING.",
      registers,
    }),
    ingestToStoredSeconds: new Histogram({
      name: "vigil_ingest_to_stored_seconds",
      help: "From the newest reading of a batch (device clock) to the COMMIT that stored it.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
  };
  return metrics;
}

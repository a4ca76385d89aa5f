import type { Database, Kysely } from "@vigil/db";
import { LATENCY_BUCKETS_S, metricsRegistry } from "@vigil/telemetry";
import { Counter, Gauge, Histogram } from "prom-client";

/** The alerter's Prometheus metrics (names in docs/telemetry.md), once per process. */
export interface AlerterMetrics {
  readingsEvaluated: Counter;
  lateReadings: Counter;
  unknownDeviceBatches: Counter;
  transitions: Counter<"type">;
  gaps: Counter;
  deliveries: Counter<"kind" | "outcome">;
  deliverySeconds: Histogram<"kind">;
  partitionsOwned: Gauge;
  /** Set by the app: the worst lag and the series count over the partitions it owns. */
  sources: { lagSeconds(): number; series(): number; alertsByState(): Promise<Record<string, number>> };
}

let metrics: AlerterMetrics | undefined;

export function alerterMetrics(): AlerterMetrics {
  if (metrics) return metrics;
  const registers = [metricsRegistry()];
  const sources: AlerterMetrics["sources"] = { lagSeconds: () => 0, series: () => 0, alertsByState: async () => ({}) };
  new Gauge({
    name: "vigil_alerter_evaluation_lag_seconds",
    help: "Now minus the time of the newest reading evaluated, worst over the partitions this replica owns.",
    registers,
    collect() {
      this.set(sources.lagSeconds());
    },
  });
  new Gauge({
    name: "vigil_alerter_series",
    help: "Detector states held (rule x device x sensor) in the partitions this replica owns.",
    registers,
    collect() {
      this.set(sources.series());
    },
  });
  new Gauge({
    name: "vigil_alerts",
    help: "Alerts by state (firing, acknowledged; resolved in the last 24 hours), from the database.",
    labelNames: ["state"],
    registers,
    async collect() {
      try {
        const counts = await sources.alertsByState();
        for (const state of ["firing", "acknowledged", "resolved"]) this.set({ state }, counts[state] ?? 0);
      } catch {
        // Database down: readiness says so.
      }
    },
  });
  metrics = {
    sources,
    readingsEvaluated: new Counter({
      name: "vigil_alerter_readings_evaluated_total",
      help: "Readings run through the rules.",
      registers,
    }),
    lateReadings: new Counter({
      name: "vigil_alerter_late_readings_total",
      help: "Readings skipped because their series was evaluated past their time already.",
      registers,
    }),
    unknownDeviceBatches: new Counter({
      name: "vigil_alerter_unknown_device_batches_total",
      help: "Batches of devices the alerter did not know yet (registered since its last refresh).",
      registers,
    }),
    transitions: new Counter({
      name: "vigil_alerter_transitions_total",
      help: "Alerts raised (fire) and resolved (resolve) by this replica, as committed.",
      labelNames: ["type"],
      registers,
    }),
    gaps: new Counter({
      name: "vigil_alerter_gaps_total",
      help: "Times a partition found batches dropped from the feed before it read them (gap alerts).",
      registers,
    }),
    deliveries: new Counter({
      name: "vigil_alerter_deliveries_total",
      help: "Delivery attempts by channel kind and outcome: succeeded, retry, failed, deferred (rate limit or silence), skipped.",
      labelNames: ["kind", "outcome"],
      registers,
    }),
    deliverySeconds: new Histogram({
      name: "vigil_alerter_delivery_duration_seconds",
      help: "Time of one delivery attempt.",
      labelNames: ["kind"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    partitionsOwned: new Gauge({
      name: "vigil_alerter_partitions_owned",
      help: "Feed partitions this replica holds the lease of.",
      registers,
    }),
  };
  return metrics;
}

/** Alerts by state for the vigil_alerts gauge. */
export async function countAlertsByState(db: Kysely<Database>): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom("alerts")
    .select(["state", db.fn.countAll<number>().as("n")])
    .where((eb) => eb.or([eb("state", "<>", "resolved"), eb("updated_at", ">", new Date(Date.now() - 86_400_000))]))
    .groupBy("state")
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

import { collectDefaultMetrics, Registry } from "prom-client";

let shared: Registry | undefined;

/**
 * The process's Prometheus registry, with the usual process and Node.js
 * metrics. One per process: the quick start runs every service in one
 * process and serves all their metrics on one /metrics.
 */
export function metricsRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}

/** Latency buckets in seconds, from 0.5 ms to 30 s. */
export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

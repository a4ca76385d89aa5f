import { ConnectJsonClient, percentile } from "./connect-json.ts";

/** What web clients ask while devices stream: the two calls of the mixed-load targets. */
export type QueryKind = "list" | "stats_30d";

export interface QueryLoadOptions {
  /** http://127.0.0.1:<port> of the query service. */
  baseUrl: string;
  username: string;
  password: string;
  /** Requests started per second, whatever the answers' pace (open loop, like k6's arrival rate). */
  ratePerS: number;
  /** Devices OR-1..devices, and the sensors they send. */
  devices: number;
  sensors: readonly string[];
  /** Requests allowed in flight at once; beyond it a due request is counted as dropped. */
  maxInFlight?: number;
}

export interface QueryLatency {
  requests: number;
  errors: number;
  /**
   * Answers without a reading (list) or bucket (stats): requests that measured
   * nothing, so a run where most are empty proves nothing about latency.
   */
  empty: number;
  ms_p50: number;
  ms_p95: number;
  ms_p99: number;
}

export interface QueryLoadReport {
  rate_per_s: number;
  /** Due requests not sent because maxInFlight were still waiting: the service had fallen behind. */
  dropped: number;
  list: QueryLatency;
  stats_30d: QueryLatency;
  /** The first few errors, for the log. */
  error_samples: string[];
}

/**
 * Web clients against the query service during an ingest run, alternating:
 * - list: ListReadings of one robot's sensor over the last 15 minutes, the
 *   first page of 100 with total_size (what a live table shows);
 * - stats_30d: GetStats of one robot's sensor over the last 30 days, hourly
 *   (a month's chart, its newest hours still being written).
 * Device and sensor vary per request. Started at a fixed rate from a timer,
 * so a slow answer does not slow the offered load.
 */
export async function startQueryLoad(o: QueryLoadOptions): Promise<{ stop(): Promise<QueryLoadReport> }> {
  const client = new ConnectJsonClient(o.baseUrl);
  await client.login(o.username, o.password);
  const maxInFlight = o.maxInFlight ?? 64;
  const samples: Record<QueryKind, number[]> = { list: [], stats_30d: [] };
  const errors: Record<QueryKind, number> = { list: 0, stats_30d: 0 };
  const empty: Record<QueryKind, number> = { list: 0, stats_30d: 0 };
  const errorSamples: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let n = 0;

  const request = (kind: QueryKind, i: number) => {
    const now = Date.now();
    const filter = {
      deviceCode: "OR",
      deviceNumber: 1 + ((Math.imul(i, 0x9e3779b1) >>> 0) % o.devices),
      sensor: o.sensors[(i >>> 1) % o.sensors.length],
    };
    return kind === "list"
      ? {
          path: "vigil.readings.v1.ReadingService/ListReadings",
          body: { filter: { ...filter, startTime: new Date(now - 15 * 60_000).toISOString() }, pageSize: 100 },
        }
      : {
          path: "vigil.readings.v1.ReadingService/GetStats",
          body: {
            filter: {
              ...filter,
              startTime: new Date(now - 30 * 86_400_000).toISOString(),
              endTime: new Date(now).toISOString(),
            },
            bucket: "1h",
          },
        };
  };

  const fire = () => {
    const i = n++;
    if (inFlight.size >= maxInFlight) {
      dropped++;
      return;
    }
    const kind: QueryKind = i % 2 === 0 ? "list" : "stats_30d";
    const { path, body } = request(kind, i);
    const p = client
      .call<{ readings?: unknown[]; buckets?: unknown[] }>(path, body)
      .then(({ ms, body: answer }) => {
        samples[kind].push(ms);
        if (!(kind === "list" ? answer.readings : answer.buckets)?.length) empty[kind]++;
      })
      .catch((err: unknown) => {
        errors[kind]++;
        if (errorSamples.length < 5) errorSamples.push(String((err as Error).message ?? err).slice(0, 300));
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const started = performance.now();
  const timer = setInterval(() => {
    // Catch up on requests a busy event loop delayed, so the offered rate stays the rate.
    const due = Math.floor(((performance.now() - started) / 1000) * o.ratePerS);
    while (n < due) fire();
  }, 10);

  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      const latency = (kind: QueryKind): QueryLatency => ({
        requests: samples[kind].length + errors[kind],
        errors: errors[kind],
        empty: empty[kind],
        ms_p50: round(percentile(samples[kind], 50)),
        ms_p95: round(percentile(samples[kind], 95)),
        ms_p99: round(percentile(samples[kind], 99)),
      });
      return {
        rate_per_s: o.ratePerS,
        dropped,
        list: latency("list"),
        stats_30d: latency("stats_30d"),
        error_samples: errorSamples,
      };
    },
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

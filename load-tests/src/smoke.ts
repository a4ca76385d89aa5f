import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { failedThresholds, type K6Run, runK6 } from "./k6.ts";
import { type LocalStack, seedReadings } from "./local-stack.ts";

export interface SmokeOptions {
  k6: string;
  /** Length of each k6 run; the smoke is 20 s. */
  durationS?: number;
  /** Where the k6 summaries and load-smoke.json go. */
  summaryDir: string;
  echo?: (line: string) => void;
}

export interface SmokeResult {
  ok: boolean;
  ingest: K6Run;
  query: K6Run;
  /** The short report written to summaryDir/load-smoke.json. */
  report: Record<string, unknown>;
}

/** Devices the smoke's ingest VUs stream as (one each), out of the stack's devices. */
export const SMOKE_INGEST_VUS = 4;

/**
 * The smoke test: seed a little data, then ingest.js and query.js at once
 * for `durationS` against the stack, production settings everywhere. The
 * ingest run exercises sessions that end and resume (three per VU) and
 * rejects it provokes on purpose (every 10th batch is invalid).
 */
export async function runSmoke(stack: LocalStack, options: SmokeOptions): Promise<SmokeResult> {
  const durationS = options.durationS ?? 20;
  const echo = options.echo ?? (() => {});
  mkdirSync(options.summaryDir, { recursive: true });
  const seeded = await seedReadings(stack, 20);
  echo(`seeded ${seeded} readings from ${stack.devices.length} devices`);
  const common = { SCENARIO: "smoke", DURATION: `${durationS}s` };
  const [ingest, query] = await Promise.all([
    runK6(
      options.k6,
      "ingest.js",
      {
        ...common,
        RECEIVER_ADDR: stack.receiverAddr,
        ...(stack.caFile && { RECEIVER_CA_FILE: stack.caFile }),
        DEVICES_FILE: stack.devicesFile,
        INGEST_VUS: String(SMOKE_INGEST_VUS),
        INGEST_INTERVAL_MS: "250",
        INGEST_BATCH_SIZE: "10",
        INGEST_STREAM_SECONDS: String(Math.max(1, Math.floor((durationS * 2) / 5))),
        INGEST_INVALID_EVERY: "10",
      },
      { summaryDir: options.summaryDir, name: "ingest-smoke", echo },
    ),
    runK6(
      options.k6,
      "query.js",
      {
        ...common,
        QUERY_URL: stack.queryUrl,
        ADMIN_USERNAME: stack.adminUsername,
        ADMIN_PASSWORD: stack.adminPassword,
        QUERY_DEVICE_CODE: stack.devices[0]!.code,
        QUERY_DEVICE_COUNT: String(stack.devices.length),
      },
      { summaryDir: options.summaryDir, name: "query-smoke", echo, caFile: stack.caFile },
    ),
  ]);
  const m = (run: K6Run, name: string, stat: string) => run.summary?.metrics[name]?.values[stat];
  const report = {
    ok: ingest.code === 0 && query.code === 0,
    duration_s: durationS,
    ingest: {
      exit_code: ingest.code,
      failed_thresholds: failedThresholds(ingest.summary),
      acks: m(ingest, "ingest_acks", "count"),
      readings_acked: m(ingest, "ingest_readings_acked", "count"),
      ack_latency_ms_p50: m(ingest, "ingest_ack_latency", "med"),
      ack_latency_ms_p99: m(ingest, "ingest_ack_latency", "p(99)"),
      rejects_expected: m(ingest, "ingest_rejects_expected", "count"),
      rejects_unexpected: m(ingest, "ingest_rejects_unexpected", "count"),
      stream_errors: m(ingest, "ingest_stream_errors", "count"),
    },
    query: {
      exit_code: query.code,
      failed_thresholds: failedThresholds(query.summary),
      requests: m(query, "http_reqs", "count"),
      failed_rate: m(query, "http_req_failed", "rate"),
      list_ms_p95: m(query, "http_req_duration{op:list}", "p(95)"),
      deep_page_ms_p95: m(query, "http_req_duration{op:deep_page}", "p(95)"),
      stats_ms_p95: m(query, "http_req_duration{op:stats}", "p(95)"),
      login_ms_p95: m(query, "http_req_duration{op:login}", "p(95)"),
    },
  };
  writeFileSync(join(options.summaryDir, "load-smoke.json"), `${JSON.stringify(report, null, 2)}\n`);
  return { ok: report.ok, ingest, query, report };
}

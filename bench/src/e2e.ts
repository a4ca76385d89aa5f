/**
 * `npm run bench`: the real pipeline (simulator → receiver → JetStream →
 * writer → PostgreSQL), each service its own process, in three parts, all
 * in one run so the ratios compare figures measured under the same load:
 *
 * 1. Throughput: every device sends as fast as acks allow for the duration.
 * 2. The ceiling: one binary COPY of as many rows into an identical table.
 * 3. Paced (`--paced-fraction`, default 0.5): the devices send at that
 *    share of the throughput, each on a timer, and the run reports the ack
 *    latency a device sees when the pipeline is not saturated.
 * 4. Mixed (`--mixed-rate`, default 10 requests/s): the paced run again with
 *    the query service and the lifecycle service running and web clients listing
 *    readings and charting 30 days meanwhile: their latencies, and whether
 *    ingest still holds its pace.
 *
 * With `--tracing compare`, the throughput run is repeated with tracing on,
 * alternating off/on and on/off for `--rounds` pairs. `--tls compare` does
 * the same with TLS on the receiver's and the writer's ports (a dev CA made
 * for the run), and adds a paced run over TLS. Progress goes to
 * stderr; the last line of stdout is one JSON object with the results.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ensureTools, scriptArgs, startPostgres, TIMESCALEDB_MISSING, timescaledbBinDir } from "@vigil/testkit";
import { ensureDevTls } from "@vigil/tls";
import { measureCopyCeiling } from "./copy-ceiling.ts";
import { type PipelineOptions, type PipelineRun, runPipeline, TRACE_SAMPLING } from "./pipeline-run.ts";
import { postmasterPid } from "./process-stats.ts";
import type { QueryLatency } from "./query-load.ts";

const USAGE = `usage: npm run bench -- [options]
  --duration-s N        length of each pipeline run (default 20; the whole bench then takes under 2 minutes)
  --devices N           simulated devices, 25 per connection (default 50)
  --batch-size N        samples per sensor per batch; robots have 5 sensors (default 100)
  --writers N           writer processes sharing the consumer (default 1)
  --nats-sync MODE      JetStream sync_interval: default (2 min) or "always" (fsync every write)
  --backlog-mb N        JetStream backlog bound; beyond it receivers hold devices back (default 16)
  --paced-fraction F    then a run paced at F × the measured throughput for ack latency; 0 skips it (default 0.5)
  --mixed-rate N        then that paced run again with web clients sending N requests/s (ListReadings of the
                        last 15 minutes, GetStats of 30 days), the query service and lifecycle service running; 0 skips it
  --tracing MODE        off, or compare: throughput runs with tracing on (10% sampled, OTLP export) too
  --tls MODE            off, or compare: throughput runs with TLS on the receiver (and a paced TLS run) too
  --rounds N            with --tracing or --tls compare, pairs of runs, alternating off/on then on/off (default 2)
  --timescaledb         store into a TimescaleDB server (readings a hypertable) instead of plain PostgreSQL
                        (partitioned); built by scripts/install-tools.sh timescaledb when missing
  --profile DIR         CPU profiles (node --cpu-prof) of the receiver, writers and simulator of the
                        throughput run (and of the first run with tracing on), for bench/src/cpuprofile-top.ts\n`;
const {
  values: flags,
  fail,
  positiveInt: positive,
} = scriptArgs("bench", USAGE, {
  "duration-s": { type: "string", default: "20" },
  devices: { type: "string", default: "50" },
  "batch-size": { type: "string", default: "100" },
  writers: { type: "string", default: "1" },
  "nats-sync": { type: "string", default: "default" },
  "backlog-mb": { type: "string", default: "16" },
  "paced-fraction": { type: "string", default: "0.5" },
  "mixed-rate": { type: "string", default: "10" },
  tracing: { type: "string", default: "off" },
  tls: { type: "string", default: "off" },
  rounds: { type: "string", default: "2" },
  profile: { type: "string" },
  timescaledb: { type: "boolean", default: false },
});
const durationS = positive(flags["duration-s"], "--duration-s");
const devices = positive(flags.devices, "--devices");
const batchSize = positive(flags["batch-size"], "--batch-size");
const writers = positive(flags.writers, "--writers");
const backlogBytes = positive(flags["backlog-mb"], "--backlog-mb") * 1024 * 1024;
const rounds = positive(flags.rounds, "--rounds");
const pacedFraction = Number(flags["paced-fraction"]);
if (!(pacedFraction >= 0 && pacedFraction < 1)) fail("--paced-fraction must be at least 0 and below 1");
const mixedRate = Number(flags["mixed-rate"]);
if (!(mixedRate >= 0 && mixedRate <= 1000)) fail("--mixed-rate must be from 0 to 1000");
if (flags.tracing !== "off" && flags.tracing !== "compare") fail("--tracing must be off or compare");
if (flags.tls !== "off" && flags.tls !== "compare") fail("--tls must be off or compare");
if (flags.tls === "compare" && flags.tracing === "compare") fail("compare tracing or TLS, one at a time");
const profileDir = flags.profile ? resolve(flags.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
// What a fresh clone lacks after `npm ci`, installed as `npm test` does.
ensureTools(["postgresql", "nats-server", ...(flags.timescaledb ? (["timescaledb"] as const) : [])]);
if (flags.timescaledb && !timescaledbBinDir()) fail(TIMESCALEDB_MISSING.replace("tests skipped", "unavailable"));
const engine = flags.timescaledb ? "timescaledb" : "postgresql";
const work = mkdtempSync(join(tmpdir(), "vigil-bench-"));
log(`starting PostgreSQL${flags.timescaledb ? " with TimescaleDB" : ""} (nats-server sync ${flags["nats-sync"]})`);
const pgServer = await startPostgres(flags.timescaledb ? { timescaledb: "preloaded" } : {});
try {
  const base: PipelineOptions = {
    postgresUrl: pgServer.url,
    postgresPid: postmasterPid(pgServer.port) ?? fail("cannot find the PostgreSQL server's process"),
    work,
    devices,
    batchSize,
    writers,
    durationS,
    natsSync: flags["nats-sync"] === "always" ? "always" : undefined,
    backlogBytes,
    traces: "off",
    pace: "fast",
  };
  const run = (o: Partial<PipelineOptions>, what: string) => {
    log(
      `${what}: ${devices} devices for ${durationS} s, ${batchSize} samples per sensor per batch, ${writers} writer(s)`,
    );
    return runPipeline({ ...base, ...o });
  };

  const off = await run({ profileDir }, "throughput");
  if (profileDir) log(`CPU profiles written to ${profileDir}`);
  log(`measuring the COPY ceiling with ${off.loss.stored} rows`);
  const ceiling = await measureCopyCeiling(off.databaseUrl, off.loss.stored, devices);

  let paced: PipelineRun | undefined;
  let pacedIntervalMs = 0;
  if (pacedFraction > 0) {
    // Each device sends one batch per interval: the fleet's rate is devices × readings per batch / interval.
    const readingsPerBatch = off.summary.readingsAcked / Math.max(1, off.summary.acked);
    pacedIntervalMs = Math.round((devices * readingsPerBatch * 1000) / (pacedFraction * off.readingsPerS));
    paced = await run(
      { pace: pacedIntervalMs },
      `paced at ${pacedFraction} × throughput (one batch per ${pacedIntervalMs} ms per device)`,
    );
  }
  let mixed: PipelineRun | undefined;
  if (paced && mixedRate > 0) {
    mixed = await run(
      { pace: pacedIntervalMs, queryRatePerS: mixedRate },
      `mixed: paced as above, web clients sending ${mixedRate} requests/s`,
    );
  }

  // Runs alternate A B B A …, so a drift in the machine's load cancels out of the comparison.
  const offRuns = [off];
  const onRuns: PipelineRun[] = [];
  for (let round = 0; flags.tracing === "compare" && round < rounds; round++) {
    const order = round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const);
    for (const traces of order) {
      if (traces === "off" && round === 0) continue; // the first run above
      const profile = traces === "on" && onRuns.length === 0 ? profileDir : undefined;
      (traces === "on" ? onRuns : offRuns).push(await run({ traces, profileDir: profile }, `tracing ${traces}`));
    }
  }

  // TLS: the same alternation, then the paced run again over TLS (same interval).
  const tlsFiles =
    flags.tls === "compare"
      ? await ensureDevTls(join(work, "tls"), ["localhost", "127.0.0.1"]).then((f) => ({
          caFile: f.caFile,
          certFile: f.certFile,
          keyFile: f.keyFile,
        }))
      : undefined;
  const tlsRuns: PipelineRun[] = [];
  for (let round = 0; tlsFiles && round < rounds; round++) {
    const order = round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const);
    for (const tls of order) {
      if (tls === "off" && round === 0) continue; // the first run above
      if (tls === "on") tlsRuns.push(await run({ tls: tlsFiles }, "TLS on"));
      else offRuns.push(await run({}, "TLS off"));
    }
  }
  const pacedTls = tlsFiles && paced ? await run({ pace: pacedIntervalMs, tls: tlsFiles }, "paced, TLS on") : undefined;

  const all = [
    ...offRuns,
    ...onRuns,
    ...tlsRuns,
    ...(paced ? [paced] : []),
    ...(pacedTls ? [pacedTls] : []),
    ...(mixed ? [mixed] : []),
  ];
  const result = {
    e2e_readings_per_s: Math.round(off.readingsPerS),
    copy_ceiling_rows_per_s: Math.round(ceiling),
    ratio: round3(off.readingsPerS / ceiling),
    acked: off.loss.acked,
    stored: off.loss.stored,
    lost: all.reduce((sum, r) => sum + r.loss.lost, 0),
    duplicates: all.reduce((sum, r) => sum + r.loss.duplicates, 0),
    // Saturated: devices wait for the backlog bound, so these are queueing, not the pipeline's own latency.
    ack_latency_ms_p50: off.summary.ackLatencyMs.p50,
    ack_latency_ms_p99: off.summary.ackLatencyMs.p99,
    batches_acked: off.summary.acked,
    rejected: off.summary.rejected,
    throttled: off.summary.throttled,
    reject_reasons: off.summary.rejectReasons,
    seconds: Math.round(off.seconds * 10) / 10,
    cpu_s: off.cpu,
    cpu_s_per_million_readings: perMillion(off.cpu, off.loss.stored),
    ...(paced && {
      paced: {
        fraction: pacedFraction,
        interval_ms: pacedIntervalMs,
        target_readings_per_s: Math.round(pacedFraction * off.readingsPerS),
        acked_readings_per_s: Math.round(paced.summary.readingsAcked / durationS),
        ack_latency_ms_p50: paced.summary.ackLatencyMs.p50,
        ack_latency_ms_p99: paced.summary.ackLatencyMs.p99,
        // The run's last 10–20 s: each device's first batches (cold code paths) left out.
        steady_ack_latency_ms_p50: paced.summary.recentAckLatencyMs.p50,
        steady_ack_latency_ms_p99: paced.summary.recentAckLatencyMs.p99,
        stored: paced.loss.stored,
        lost: paced.loss.lost,
      },
    }),
    ...(mixed?.queries && {
      mixed: {
        target_readings_per_s: Math.round(pacedFraction * off.readingsPerS),
        acked_readings_per_s: Math.round(mixed.summary.readingsAcked / durationS),
        ack_latency_ms_p99: mixed.summary.ackLatencyMs.p99,
        steady_ack_latency_ms_p99: mixed.summary.recentAckLatencyMs.p99,
        lost: mixed.loss.lost,
        queries: mixed.queries,
        // Issue 16: ListReadings p95 < 100 ms and 30-day GetStats p95 < 250 ms while ingest holds its pace.
        // Only when the answers held data: no errors, at most 5 % empty (the first requests may come before any batch).
        list_target_met: mixed.queries.list.ms_p95 < 100 && answered(mixed.queries.list),
        stats_target_met: mixed.queries.stats_30d.ms_p95 < 250 && answered(mixed.queries.stats_30d),
        ingest_held_pace: mixed.summary.readingsAcked / durationS >= 0.95 * pacedFraction * off.readingsPerS,
        cpu_s_per_million_readings: perMillion(mixed.cpu, mixed.loss.stored),
      },
    }),
    ...(onRuns.length > 0 && {
      tracing: {
        sampling: TRACE_SAMPLING,
        rounds,
        off_readings_per_s: offRuns.map((r) => Math.round(r.readingsPerS)),
        on_readings_per_s: onRuns.map((r) => Math.round(r.readingsPerS)),
        ratio_to_off: round3(mean(onRuns.map((r) => r.readingsPerS)) / mean(offRuns.map((r) => r.readingsPerS))),
        // Receiver and writer CPU per reading: what tracing costs the servers, steadier than throughput
        // on a machine that is doing other work.
        off_server_cpu_us_per_reading: offRuns.map(serverCpuUsPerReading),
        on_server_cpu_us_per_reading: onRuns.map(serverCpuUsPerReading),
        cpu_ratio_to_off: round3(mean(onRuns.map(serverCpuUsPerReading)) / mean(offRuns.map(serverCpuUsPerReading))),
        on_ack_latency_ms_p50: onRuns.map((r) => r.summary.ackLatencyMs.p50),
        otlp_exports: onRuns.reduce((sum, r) => sum + r.otlpExports, 0),
        // Every run's CPU by process group, per million stored readings.
        off_cpu_s_per_million_readings: offRuns.map((r) => perMillion(r.cpu, r.loss.stored)),
        on_cpu_s_per_million_readings: onRuns.map((r) => perMillion(r.cpu, r.loss.stored)),
      },
    }),
    ...(tlsRuns.length > 0 && {
      tls: {
        rounds,
        off_readings_per_s: offRuns.map((r) => Math.round(r.readingsPerS)),
        on_readings_per_s: tlsRuns.map((r) => Math.round(r.readingsPerS)),
        ratio_to_off: round3(mean(tlsRuns.map((r) => r.readingsPerS)) / mean(offRuns.map((r) => r.readingsPerS))),
        off_server_cpu_us_per_reading: offRuns.map(serverCpuUsPerReading),
        on_server_cpu_us_per_reading: tlsRuns.map(serverCpuUsPerReading),
        cpu_ratio_to_off: round3(mean(tlsRuns.map(serverCpuUsPerReading)) / mean(offRuns.map(serverCpuUsPerReading))),
        ...(pacedTls &&
          paced && {
            paced_off_ack_latency_ms_p99: paced.summary.ackLatencyMs.p99,
            paced_on_ack_latency_ms_p50: pacedTls.summary.ackLatencyMs.p50,
            paced_on_ack_latency_ms_p99: pacedTls.summary.ackLatencyMs.p99,
            paced_on_steady_ack_latency_ms_p99: pacedTls.summary.recentAckLatencyMs.p99,
            paced_on_lost: pacedTls.loss.lost,
          }),
      },
    }),
    devices,
    batch_size: batchSize,
    writers,
    nats_sync: flags["nats-sync"],
    engine,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await pgServer.stop();
  rmSync(work, { recursive: true, force: true });
}

function serverCpuUsPerReading(r: PipelineRun): number {
  return round3((((r.cpu.receiver ?? 0) + (r.cpu.writer ?? 0)) * 1e6) / Math.max(1, r.loss.stored));
}

/** CPU seconds per million stored readings, per process group: comparable across loaded and quiet runs. */
function perMillion(cpu: Record<string, number>, readings: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([name, s]) => [name, round3((s * 1e6) / Math.max(1, readings))]));
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Every request answered, and at most 5 % of the answers empty. */
function answered(q: QueryLatency): boolean {
  return q.errors === 0 && q.empty <= 0.05 * q.requests;
}

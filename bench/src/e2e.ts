/**
 * `npm run bench`: the real pipeline (simulator → receiver → JetStream →
 * writer → PostgreSQL), each service its own process, for a fixed time;
 * then, in the same run and database, COPY of the same number of rows into
 * an identical table as the ceiling. With `--tracing compare`, the pipeline
 * also runs with tracing on, each run on a fresh database and nats-server,
 * alternating off/on and on/off for `--rounds` pairs, and the result gives
 * the mean throughput with tracing as a ratio to the mean without. Progress goes to
 * stderr; the last line of stdout is one JSON object with the results.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import type { FleetSummary } from "@vigil/simulator";
import {
  createTestDatabase,
  type ServiceProcess,
  startNats,
  startOtlpReceiver,
  startPostgres,
  startServiceProcess,
} from "@vigil/testkit";
import { measureCopyCeiling } from "./copy-ceiling.ts";
import { checkLoss, countReadings, type LossReport } from "./loss-check.ts";
import { cpuSecondsOf } from "./process-stats.ts";

/** Share of batches traced in the `--tracing compare` run: the production default. */
const TRACE_SAMPLING = 0.1;

const { values: flags } = parseArgs({
  options: {
    "duration-s": { type: "string", default: "30" },
    devices: { type: "string", default: "50" },
    "batch-size": { type: "string", default: "100" },
    writers: { type: "string", default: "1" },
    "nats-sync": { type: "string", default: "default" },
    "backlog-mb": { type: "string", default: "16" },
    tracing: { type: "string", default: "off" },
    rounds: { type: "string", default: "2" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  process.stdout.write(`usage: npm run bench -- [--duration-s 30] [--devices 50] [--batch-size 100] [--writers 1] [--nats-sync default|always]
  --batch-size      samples per sensor per batch (robots have 5 sensors)
  --nats-sync       JetStream sync_interval: the server default (2 min) or "always" (fsync every write)
  --backlog-mb      JetStream backlog bound; beyond it receivers hold devices back (default 16)
  --tracing         off, or compare: runs with tracing on (10% of batches sampled, OTLP export) as well
  --rounds          with --tracing compare, pairs of runs, alternating off/on then on/off (default 2)\n`);
  process.exit(0);
}
const durationS = positive(flags["duration-s"], "--duration-s");
const devices = positive(flags.devices, "--devices");
const batchSize = positive(flags["batch-size"], "--batch-size");
const writers = positive(flags.writers, "--writers");
const natsSync = flags["nats-sync"] === "always" ? "always" : undefined;
const backlogBytes = positive(flags["backlog-mb"], "--backlog-mb") * 1024 * 1024;
const tracing = flags.tracing;
const rounds = positive(flags.rounds, "--rounds");
if (tracing !== "off" && tracing !== "compare") {
  process.stderr.write("bench: --tracing must be off or compare\n");
  process.exit(2);
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const work = mkdtempSync(join(tmpdir(), "vigil-bench-"));
log(`starting PostgreSQL (nats-server sync ${natsSync ?? "default"})`);
const pgServer = await startPostgres();
try {
  const off = await runPipeline("off");
  log(`measuring the COPY ceiling with ${off.loss.stored} rows`);
  const ceiling = await measureCopyCeiling(off.databaseUrl, off.loss.stored, devices);
  // Runs alternate A B B A …, so a drift in the machine's load cancels out of the comparison.
  const offRuns = [off];
  const onRuns: PipelineRun[] = [];
  for (let round = 0; tracing === "compare" && round < rounds; round++) {
    const order = round % 2 === 0 ? (["off", "on"] as const) : (["on", "off"] as const);
    for (const traces of order) {
      if (traces === "off" && round === 0) continue; // the first run above
      (traces === "on" ? onRuns : offRuns).push(await runPipeline(traces));
    }
  }
  const all = [...offRuns, ...onRuns];
  const meanRate = (runs: PipelineRun[]) => runs.reduce((sum, r) => sum + r.readingsPerS, 0) / runs.length;
  const meanCpu = (runs: PipelineRun[]) => runs.reduce((sum, r) => sum + r.serverCpuUsPerReading, 0) / runs.length;
  const result = {
    e2e_readings_per_s: Math.round(off.readingsPerS),
    copy_ceiling_rows_per_s: Math.round(ceiling),
    ratio: round3(off.readingsPerS / ceiling),
    acked: off.loss.acked,
    stored: off.loss.stored,
    lost: all.reduce((sum, r) => sum + r.loss.lost, 0),
    duplicates: all.reduce((sum, r) => sum + r.loss.duplicates, 0),
    ack_latency_ms_p50: off.summary.ackLatencyMs.p50,
    ack_latency_ms_p99: off.summary.ackLatencyMs.p99,
    batches_acked: off.summary.acked,
    rejected: off.summary.rejected,
    throttled: off.summary.throttled,
    reject_reasons: off.summary.rejectReasons,
    seconds: Math.round(off.seconds * 10) / 10,
    ...(onRuns.length > 0 && {
      tracing: {
        sampling: TRACE_SAMPLING,
        rounds,
        off_readings_per_s: offRuns.map((r) => Math.round(r.readingsPerS)),
        on_readings_per_s: onRuns.map((r) => Math.round(r.readingsPerS)),
        ratio_to_off: round3(meanRate(onRuns) / meanRate(offRuns)),
        // Receiver and writer CPU per reading, off and on: what tracing costs the servers,
        // less sensitive than throughput to other work on the machine.
        off_server_cpu_us_per_reading: offRuns.map((r) => round3(r.serverCpuUsPerReading)),
        on_server_cpu_us_per_reading: onRuns.map((r) => round3(r.serverCpuUsPerReading)),
        cpu_ratio_to_off: round3(meanCpu(onRuns) / meanCpu(offRuns)),
        on_ack_latency_ms_p50: onRuns.map((r) => r.summary.ackLatencyMs.p50),
        otlp_exports: onRuns.reduce((sum, r) => sum + r.otlpExports, 0),
      },
    }),
    devices,
    batch_size: batchSize,
    writers,
    nats_sync: natsSync ?? "default",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await pgServer.stop();
  rmSync(work, { recursive: true, force: true });
}

interface PipelineRun {
  databaseUrl: string;
  readingsPerS: number;
  seconds: number;
  summary: FleetSummary;
  loss: LossReport;
  otlpExports: number;
  /** CPU time the receiver and the writers used per stored reading, in µs: robust to a busy machine. */
  serverCpuUsPerReading: number;
}

/**
 * One timed run of the whole pipeline on a fresh database and nats-server,
 * with tracing off or on (TRACE_SAMPLING of batches, exported over OTLP to
 * a sink in this process, as a collector would take them).
 */
async function runPipeline(traces: "off" | "on"): Promise<PipelineRun> {
  const nats = await startNats({ syncInterval: natsSync });
  const otlp = traces === "on" ? await startOtlpReceiver() : undefined;
  const running: ServiceProcess[] = [];
  try {
    const databaseUrl = await createTestDatabase(pgServer.url, "bench");
    const database = await openDatabase(databaseUrl);
    await migrateToLatest(database.db);
    const identities = [];
    for (let n = 1; n <= devices; n++) {
      const { apiKey } = await createDevice({ db: database.db, actor: "system:bench" }, { code: "OR", number: n });
      identities.push({ code: "OR", number: n, apiKey });
    }
    await database.close();
    const devicesFile = join(work, `devices-${traces}.json`);
    const ackedFile = join(work, `acked-${traces}.json`);
    writeFileSync(devicesFile, JSON.stringify(identities), { mode: 0o600 });

    // A small backlog bound: ingest is held to the writers' pace, as in production under overload.
    // No per-device rate limit: the bench measures the pipeline, not the limiter.
    const env = {
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      LOG_LEVEL: "warn",
      NATS_STREAM_MAX_BYTES: String(backlogBytes),
      RECEIVER_RATE_LIMIT_PER_S: "100000000",
      RECEIVER_OPS_PORT: "0",
      WRITER_OPS_PORT: "0",
      RECEIVER_RATE_LIMIT_BURST: "1000000000",
      ...(otlp && {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: String(TRACE_SAMPLING),
      }),
    };
    const receiverPort = String(20_000 + Math.floor(Math.random() * 20_000));
    const receiver = await startServiceProcess(
      "services/receiver/src/main.ts",
      { ...env, LOG_LEVEL: "info", RECEIVER_PORT: receiverPort, RECEIVER_HOST: "127.0.0.1" },
      /receiver listening/,
    );
    running.push(receiver);
    for (let i = 0; i < writers; i++) {
      running.push(
        await startServiceProcess("services/writer/src/main.ts", { ...env, LOG_LEVEL: "info" }, /writer consuming/),
      );
    }

    log(
      `tracing ${traces}: running ${devices} devices for ${durationS} s, ${batchSize} samples per sensor per batch, ${writers} writer(s)`,
    );
    const started = performance.now();
    const simulator = await startServiceProcess(
      "simulator/src/main.ts",
      { ...env, SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`, SIMULATOR_CONTROL_PORT: "0", LOG_LEVEL: "info" },
      /simulator started/,
      [
        "--clock",
        "fast",
        "--interval-ms",
        String(batchSize),
        "--batch-size",
        String(batchSize),
        "--duration-s",
        String(durationS),
        "--devices-file",
        devicesFile,
        "--acked-file",
        ackedFile,
        "--devices-per-connection",
        "25",
      ],
    );
    await simulator.exited;
    const summaryLine = simulator
      .output()
      .split("\n")
      .reverse()
      .find((l) => l.startsWith('{"summary"'));
    if (!summaryLine) throw new Error(`simulator printed no summary:\n${simulator.output().slice(-3000)}`);
    const summary = JSON.parse(summaryLine).summary;
    log(`simulator: ${summary.readingsAcked} readings acked in ${summary.acked} batches; waiting for the writer`);

    let stored = 0;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      stored = await countReadings(databaseUrl);
      if (stored >= summary.readingsAcked) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    let cpuSeconds = 0;
    for (const p of running) if (p.child.pid) cpuSeconds += cpuSecondsOf(p.child.pid);
    for (const p of running.splice(0)) await p.stop();

    const loss = await checkLoss(databaseUrl, ackedFile);
    return {
      databaseUrl,
      readingsPerS: loss.stored / seconds,
      seconds,
      summary,
      loss,
      otlpExports: otlp?.exports ?? 0,
      serverCpuUsPerReading: (cpuSeconds * 1e6) / Math.max(1, loss.stored),
    };
  } finally {
    for (const p of running) await p.stop().catch(() => {});
    await nats.destroy();
    await otlp?.close();
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function positive(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
}

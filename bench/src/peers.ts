/**
 * `npm run bench:peers`: Vigil side by side with what a team would install
 * instead for "sensors into TimescaleDB": Telegraf (InfluxDB v2 listener →
 * PostgreSQL output with its TimescaleDB templates). The same readings
 * (devices, robots' five sensors, batch shape) go through each, into the same
 * database on one TimescaleDB server, in one run:
 *
 * 1. throughput: every device sends as fast as acks (Vigil) or 204s
 *    (Telegraf) allow; readings stored per second, CPU seconds per million
 *    readings per process;
 * 2. paced at half of each one's own throughput: ack / HTTP latency;
 * 3. the throughput run again with the ingest processes killed (SIGKILL)
 *    halfway and restarted a second later (Vigil: receiver and writer;
 *    Telegraf: its one process): acknowledged readings missing from the
 *    table afterwards.
 *
 * Vigil and Telegraf alternate within each part. Progress on stderr; the last
 * line of stdout is one JSON object.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateToLatest, openDatabase } from "@vigil/db";
import {
  createTestDatabase,
  ensureTools,
  scriptArgs,
  startPostgres,
  TIMESCALEDB_MISSING,
  timescaledbBinDir,
} from "@vigil/testkit";
import { type PipelineOptions, type PipelineRun, runPipeline } from "./pipeline-run.ts";
import { postmasterPid } from "./process-stats.ts";
import { runTelegraf, type TelegrafRun } from "./telegraf-run.ts";

const USAGE = `usage: npm run bench:peers -- [--duration-s 20] [--devices 50] [--batch-size 100]
  Vigil and Telegraf 1.37 (built by scripts/install-tools.sh telegraf when missing) on one TimescaleDB
  server: throughput, latency at half load, and acknowledged readings lost when the ingest processes are
  killed with SIGKILL halfway through a run. About 3 minutes with the defaults.\n`;
const {
  values: flags,
  fail,
  positiveInt: positive,
} = scriptArgs("bench:peers", USAGE, {
  "duration-s": { type: "string", default: "20" },
  devices: { type: "string", default: "50" },
  "batch-size": { type: "string", default: "100" },
});
const durationS = positive(flags["duration-s"], "--duration-s");
const devices = positive(flags.devices, "--devices");
const batchSize = positive(flags["batch-size"], "--batch-size");
const log = (msg: string) => process.stderr.write(`bench:peers: ${msg}\n`);

// What a fresh clone lacks after `npm ci`, installed as `npm test` does (Telegraf only here).
ensureTools(["postgresql", "nats-server", "timescaledb", "telegraf"]);
if (!timescaledbBinDir()) fail(TIMESCALEDB_MISSING.replace("tests skipped", "unavailable"));
const work = mkdtempSync(join(tmpdir(), "vigil-bench-peers-"));
log("starting PostgreSQL with TimescaleDB (durable defaults)");
const server = await startPostgres({ timescaledb: "preloaded" });
try {
  const databaseUrl = await createTestDatabase(server.url, "peers");
  const database = await openDatabase(databaseUrl);
  await migrateToLatest(database.db);
  await database.close();
  const postgresPid = postmasterPid(server.port) ?? fail("cannot find the PostgreSQL server's process");
  const vigilBase: PipelineOptions = {
    postgresUrl: server.url,
    databaseUrl,
    postgresPid,
    work,
    devices,
    batchSize,
    writers: 1,
    durationS,
    backlogBytes: 16 * 1024 * 1024,
    traces: "off",
    pace: "fast",
  };
  const telegrafBase = { databaseUrl, postgresPid, work, devices, batchSize, durationS };
  let runs = 0;
  const vigil = (o: Partial<PipelineOptions>, what: string) => {
    log(`Vigil, ${what}`);
    // ROB…: the simulator's robots (five sensors), the same batches the Telegraf devices send.
    return runPipeline({ ...vigilBase, deviceCode: `ROB${String.fromCharCode(65 + runs++)}`, ...o });
  };
  const telegraf = (o: { pace: "fast" | number; killAtS?: number }, what: string) => {
    log(`Telegraf, ${what}`);
    return runTelegraf({ ...telegrafBase, code: `TG${String.fromCharCode(65 + runs++)}`, ...o });
  };

  const vFast = await vigil({ pace: "fast" }, `throughput: ${devices} devices for ${durationS} s`);
  const tFast = await telegraf({ pace: "fast" }, `throughput: ${devices} devices for ${durationS} s`);
  const readingsPerBatch = 5 * batchSize;
  // One batch per interval per device: half of each one's own throughput.
  const halfOf = (readingsPerS: number) => Math.round((devices * readingsPerBatch * 1000) / (0.5 * readingsPerS));
  const vInterval = halfOf(vFast.readingsPerS);
  const tInterval = halfOf(tFast.readingsPerS);
  const tPaced = await telegraf({ pace: tInterval }, `paced at half its throughput (a batch per ${tInterval} ms)`);
  const vPaced = await vigil({ pace: vInterval }, `paced at half its throughput (a batch per ${vInterval} ms)`);
  const killAtS = durationS / 2;
  const vKill = await vigil({ pace: "fast", killAtS }, `throughput, receiver and writer killed (-9) at ${killAtS} s`);
  const tKill = await telegraf({ pace: "fast", killAtS }, `throughput, telegraf killed (-9) at ${killAtS} s`);

  const vigilReport = report(vFast, vPaced, vKill, vInterval);
  const telegrafReport = report(tFast, tPaced, tKill, tInterval);
  const ratio = round3(vFast.readingsPerS / tFast.readingsPerS);
  process.stdout.write(
    `${JSON.stringify({
      vigil: vigilReport,
      telegraf: telegrafReport,
      throughput_ratio: ratio,
      // Issue 16: Vigil ≥ 1.5 × Telegraf's throughput with 0 acknowledged readings lost.
      target_met: ratio >= 1.5 && vigilReport.killed.lost === 0 && vigilReport.throughput.lost === 0,
      devices,
      readings_per_batch: readingsPerBatch,
      duration_s: durationS,
    })}\n`,
  );
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

function report(
  fast: PipelineRun | TelegrafRun,
  paced: PipelineRun | TelegrafRun,
  kill: PipelineRun | TelegrafRun,
  interval: number,
) {
  return {
    throughput: {
      readings_per_s: Math.round(fast.readingsPerS),
      acked: fast.loss.acked,
      stored: fast.loss.stored,
      lost: fast.loss.lost,
      duplicates: fast.loss.duplicates,
      cpu_s_per_million_readings: perMillion(fast.cpu, fast.loss.stored),
    },
    paced: {
      interval_ms: interval,
      acked_readings_per_s: Math.round(paced.summary.readingsAcked / durationS),
      ack_latency_ms_p50: paced.summary.ackLatencyMs.p50,
      ack_latency_ms_p99: paced.summary.ackLatencyMs.p99,
      steady_ack_latency_ms_p99: paced.summary.recentAckLatencyMs.p99,
      lost: paced.loss.lost,
    },
    killed: {
      acked: kill.loss.acked,
      stored: kill.loss.stored,
      lost: kill.loss.lost,
      duplicates: kill.loss.duplicates,
    },
  };
}

function perMillion(cpu: Record<string, number>, readings: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpu).map(([name, s]) => [name, round3((s * 1e6) / Math.max(1, readings))]));
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

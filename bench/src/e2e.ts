/**
 * `npm run bench`: the real pipeline (simulator → receiver → JetStream →
 * writer → PostgreSQL), each service its own process, for a fixed time;
 * then, in the same run and database, COPY of the same number of rows into
 * an identical table as the ceiling. Progress goes to stderr; the last
 * line of stdout is one JSON object with the results.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { createTestDatabase, startNats, startPostgres, startServiceProcess } from "@vigil/testkit";
import { measureCopyCeiling } from "./copy-ceiling.ts";
import { checkLoss, countReadings } from "./loss-check.ts";

const { values: flags } = parseArgs({
  options: {
    "duration-s": { type: "string", default: "30" },
    devices: { type: "string", default: "50" },
    "batch-size": { type: "string", default: "100" },
    writers: { type: "string", default: "1" },
    "nats-sync": { type: "string", default: "default" },
    "backlog-mb": { type: "string", default: "16" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  process.stdout.write(`usage: npm run bench -- [--duration-s 30] [--devices 50] [--batch-size 100] [--writers 1] [--nats-sync default|always]
  --batch-size      samples per sensor per batch (robots have 5 sensors)
  --nats-sync       JetStream sync_interval: the server default (2 min) or "always" (fsync every write)
  --backlog-mb      JetStream backlog bound; beyond it receivers hold devices back (default 16)\n`);
  process.exit(0);
}
const durationS = positive(flags["duration-s"], "--duration-s");
const devices = positive(flags.devices, "--devices");
const batchSize = positive(flags["batch-size"], "--batch-size");
const writers = positive(flags.writers, "--writers");
const natsSync = flags["nats-sync"] === "always" ? "always" : undefined;
const backlogBytes = positive(flags["backlog-mb"], "--backlog-mb") * 1024 * 1024;

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const work = mkdtempSync(join(tmpdir(), "vigil-bench-"));
log(`starting PostgreSQL and nats-server (sync ${natsSync ?? "default"})`);
const [pgServer, nats] = await Promise.all([startPostgres(), startNats({ syncInterval: natsSync })]);
const running: Array<{ stop(): Promise<void> }> = [];
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
  const devicesFile = join(work, "devices.json");
  const ackedFile = join(work, "acked.json");
  writeFileSync(devicesFile, JSON.stringify(identities), { mode: 0o600 });

  // A small backlog bound: ingest is held to the writers' pace, as in production under overload.
  // No per-device rate limit: the bench measures the pipeline, not the limiter.
  const env = {
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    LOG_LEVEL: "warn",
    NATS_STREAM_MAX_BYTES: String(backlogBytes),
    RECEIVER_RATE_LIMIT_PER_S: "100000000",
    RECEIVER_RATE_LIMIT_BURST: "1000000000",
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

  log(`running ${devices} devices for ${durationS} s, ${batchSize} samples per sensor per batch, ${writers} writer(s)`);
  const started = performance.now();
  const simulator = await startServiceProcess(
    "simulator/src/main.ts",
    { ...env, SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`, LOG_LEVEL: "info" },
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
  for (const p of running.splice(0)) await p.stop();

  const loss = await checkLoss(databaseUrl, ackedFile);
  log(`measuring the COPY ceiling with ${loss.stored} rows`);
  const ceiling = await measureCopyCeiling(databaseUrl, loss.stored, devices);
  const e2e = loss.stored / seconds;
  const result = {
    e2e_readings_per_s: Math.round(e2e),
    copy_ceiling_rows_per_s: Math.round(ceiling),
    ratio: Math.round((e2e / ceiling) * 1000) / 1000,
    acked: loss.acked,
    stored: loss.stored,
    lost: loss.lost,
    duplicates: loss.duplicates,
    ack_latency_ms_p50: summary.ackLatencyMs.p50,
    ack_latency_ms_p99: summary.ackLatencyMs.p99,
    batches_acked: summary.acked,
    rejected: summary.rejected,
    throttled: summary.throttled,
    reject_reasons: summary.rejectReasons,
    seconds: Math.round(seconds * 10) / 10,
    devices,
    batch_size: batchSize,
    writers,
    nats_sync: natsSync ?? "default",
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  for (const p of running) await p.stop().catch(() => {});
  await Promise.all([pgServer.stop(), nats.destroy()]);
  rmSync(work, { recursive: true, force: true });
}

function positive(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
}

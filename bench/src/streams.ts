/**
 * `npm run bench:streams`: how much memory and CPU a receiver needs per
 * device stream. Registers a fleet (10,000 devices by default), then for
 * each connection layout (one stream per HTTP/2 connection, many per
 * connection) starts a fresh receiver and one simulator process with every
 * device idle, and grows the fleet step by step (1,000 streams at a time)
 * over the simulator's control API. After each step has settled it samples
 * the receiver's and the simulator's resident memory and CPU. Progress goes
 * to stderr; the last line of stdout is one JSON object with every step.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { provisionDevices } from "@vigil/simulator";
import {
  createTestDatabase,
  ensureTools,
  freePort,
  type ServiceProcess,
  scriptArgs,
  startNats,
  startPostgres,
  startServiceProcess,
  waitFor,
} from "@vigil/testkit";
import { childPidsOf, cpuSecondsOf, MiB, memoryOf, openFilesOf } from "./process-stats.ts";

const USAGE = `usage: npm run bench:streams -- [--streams 10000] [--step 1000] [--per-connection 1,100]
       [--interval-ms 10000] [--batch-size 10] [--settle-s 20] [--profile DIR]
  --per-connection  device streams per HTTP/2 connection, one run each (the receiver allows up to
                    RECEIVER_MAX_CONCURRENT_STREAMS, raised here to the largest value given)
  --interval-ms     time between batches of each device; --batch-size samples per sensor per batch
                    (the devices are patient monitors with 2 sensors: 10,000 devices at the defaults
                    send 1,000 batches and 20,000 readings per second)
  --settle-s        time each step runs before it is measured (at least 20: the ack latency of a step
                    is the simulator's recent window, its last 10 to 20 s)
  --profile DIR     write CPU profiles of each receiver and simulator (node --cpu-prof) and a heap
                    snapshot of the receiver at the largest step into DIR; read them with
                    bench/src/cpuprofile-top.ts and bench/src/heapsnapshot-top.ts\n`;
const { values: flags, positiveInt: positive } = scriptArgs("bench:streams", USAGE, {
  streams: { type: "string", default: "10000" },
  step: { type: "string", default: "1000" },
  "per-connection": { type: "string", default: "1,100" },
  "interval-ms": { type: "string", default: "10000" },
  "batch-size": { type: "string", default: "10" },
  "settle-s": { type: "string", default: "20" },
  profile: { type: "string" },
});
const streams = positive(flags.streams, "--streams");
const step = positive(flags.step, "--step");
const perConnection = (flags["per-connection"] ?? "").split(",").map((v) => positive(v, "--per-connection"));
const intervalMs = positive(flags["interval-ms"], "--interval-ms");
const batchSize = positive(flags["batch-size"], "--batch-size");
const settleMs = positive(flags["settle-s"], "--settle-s") * 1000;
const profileDir = flags.profile ? resolve(flags.profile) : undefined;

const log = (msg: string) => process.stderr.write(`bench:streams: ${msg}\n`);
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

// Each stream is a socket in both processes when it has its own connection.
const fdLimit = Number(execFileSync("sh", ["-c", "ulimit -n"]).toString().trim());
const needed = Math.ceil(streams / Math.min(...perConnection)) + 1_000;
if (Number.isFinite(fdLimit) && fdLimit < needed) {
  log(`open-file limit ${fdLimit} is below the ${needed} this run needs: raise it (ulimit -n ${needed}) and rerun`);
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "vigil-bench-streams-"));
if (profileDir) mkdirSync(profileDir, { recursive: true });
ensureTools(["postgresql", "nats-server"]);
log("starting PostgreSQL and nats-server");
const [pgServer, nats] = await Promise.all([startPostgres(), startNats()]);
// nats-server is this process's child; its CPU shows whether acks wait on JetStream.
const natsPid = childPidsOf(process.pid, "nats-server")[0];
const running: ServiceProcess[] = [];
let writerPid = 0;
try {
  const databaseUrl = await createTestDatabase(pgServer.url, "bench");
  const database = await openDatabase(databaseUrl);
  await migrateToLatest(database.db);
  const registering = performance.now();
  const devices = await provisionDevices(
    database.db,
    "FLEET",
    Array.from({ length: streams }, (_, i) => i + 1),
    "system:bench",
  );
  log(`registered ${devices.length} devices in ${Math.round(performance.now() - registering)} ms`);
  await database.close();
  const devicesFile = join(work, "devices.json");
  writeFileSync(devicesFile, JSON.stringify(devices), { mode: 0o600 });

  const env = {
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    LOG_LEVEL: "warn",
    RECEIVER_MAX_CONCURRENT_STREAMS: String(Math.max(1_000, ...perConnection)),
  };
  const writer = await startServiceProcess(
    "services/writer/src/main.ts",
    { ...env, LOG_LEVEL: "info", WRITER_OPS_HOST: "127.0.0.1" },
    /writer consuming/,
  );
  running.push(writer);
  writerPid = writer.child.pid!;

  const modes = [];
  for (const layout of perConnection) modes.push(await measureLayout(layout, env, devicesFile));

  const result = {
    bench: "streams",
    hardware: `${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    streams,
    interval_ms: intervalMs,
    batch_size: batchSize,
    readings_per_s_at_max: Math.round((streams * 2 * batchSize * 1000) / intervalMs),
    open_file_limit: fdLimit,
    modes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  for (const p of running) await p.stop().catch(() => {});
  await Promise.all([pgServer.stop(), nats.destroy()]);
  rmSync(work, { recursive: true, force: true });
}

/** One connection layout: a fresh receiver, one simulator, the fleet grown step by step. */
async function measureLayout(layout: number, env: Record<string, string>, devicesFile: string) {
  const receiverPort = await freePort();
  const controlPort = await freePort();
  const profiling = (name: string): Record<string, string> =>
    profileDir
      ? {
          NODE_OPTIONS: [
            "--cpu-prof",
            `--cpu-prof-dir=${profileDir}`,
            `--cpu-prof-name=${name}-${layout}-per-connection.cpuprofile`,
            "--heapsnapshot-signal=SIGUSR2",
            `--diagnostic-dir=${profileDir}`,
          ].join(" "),
        }
      : {};
  const receiver = await startServiceProcess(
    "services/receiver/src/main.ts",
    {
      ...env,
      ...profiling("receiver"),
      LOG_LEVEL: "info",
      RECEIVER_PORT: String(receiverPort),
      RECEIVER_HOST: "127.0.0.1",
    },
    /receiver listening/,
  );
  running.push(receiver);
  const simulator = await startServiceProcess(
    "simulator/src/main.ts",
    {
      ...env,
      ...profiling("simulator"),
      LOG_LEVEL: "info",
      SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`,
      SIMULATOR_DEVICES_FILE: devicesFile,
      SIMULATOR_AUTOSTART: "false",
      SIMULATOR_CONTROL_PORT: String(controlPort),
      SIMULATOR_DEVICES_PER_CONNECTION: String(layout),
      SIMULATOR_INTERVAL_MS: String(intervalMs),
      SIMULATOR_BATCH_SIZE: String(batchSize),
    },
    /simulator started/,
  );
  running.push(simulator);
  const control = async (method: string, body: object = {}) => {
    const res = await fetch(`http://127.0.0.1:${controlPort}/vigil.simulator.v1.SimulatorService/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { status?: { summary: Record<string, number | string> }; message?: string };
    if (!res.ok || !json.status) throw new Error(`${method}: ${res.status} ${json.message}`);
    return json.status.summary;
  };
  const count = (v: number | string | undefined) => Number(v ?? 0);

  const receiverPid = receiver.child.pid!;
  const simulatorPid = simulator.child.pid!;
  const idle = { receiver: memoryOf(receiverPid).rss, simulator: memoryOf(simulatorPid).rss };
  log(
    `${layout} stream(s) per connection: idle receiver ${mib(idle.receiver)} MiB, simulator ${mib(idle.simulator)} MiB`,
  );
  const steps = [];
  const sizes: number[] = [];
  for (let n = step; n < streams; n += step) sizes.push(n);
  sizes.push(streams);
  for (const n of sizes) {
    const connecting = performance.now();
    await control("Start", { devices: n });
    await waitFor(`${n} streams`, async () => count((await control("GetStatus")).connected) === n, 300_000, 500);
    const connectMs = Math.round(performance.now() - connecting);
    const cpu0 = {
      receiver: cpuSecondsOf(receiverPid),
      simulator: cpuSecondsOf(simulatorPid),
      writer: cpuSecondsOf(writerPid),
      nats: natsPid ? cpuSecondsOf(natsPid) : 0,
    };
    const before = await control("GetStatus");
    await new Promise((r) => setTimeout(r, settleMs));
    const after = await control("GetStatus");
    const cpu = (pid: number, start: number) => Math.round(((cpuSecondsOf(pid) - start) / (settleMs / 1000)) * 100);
    const r = memoryOf(receiverPid);
    const s = memoryOf(simulatorPid);
    const row = {
      streams: n,
      connections: count(after.connections),
      connect_ms: connectMs,
      receiver_rss_mib: mib(r.rss),
      receiver_peak_mib: mib(r.peak),
      receiver_cpu_pct: cpu(receiverPid, cpu0.receiver),
      receiver_open_files: openFilesOf(receiverPid),
      simulator_rss_mib: mib(s.rss),
      simulator_cpu_pct: cpu(simulatorPid, cpu0.simulator),
      writer_cpu_pct: cpu(writerPid, cpu0.writer),
      nats_cpu_pct: natsPid ? cpu(natsPid, cpu0.nats) : -1,
      // The machine's 1-minute load average: other work on a shared machine shows here.
      load_avg: Math.round(loadavg()[0]! * 10) / 10,
      acked_per_s: Math.round(((count(after.acked) - count(before.acked)) * 1000) / settleMs),
      // Acks of the last 10 to 20 s: within this step's settle time.
      ack_ms_p50: count(after.recentAckLatencyMsP50),
      ack_ms_p99: count(after.recentAckLatencyMsP99),
      rejected: count(after.rejected),
      throttled: count(after.throttled),
      reconnects: count(after.reconnects),
    };
    steps.push(row);
    log(JSON.stringify(row));
    if (profileDir && n === streams) {
      receiver.child.kill("SIGUSR2");
      log(`heap snapshot of the receiver at ${n} streams requested into ${profileDir}`);
      await new Promise((r) => setTimeout(r, 30_000));
    }
  }
  const final = await control("Stop");
  await simulator.stop();
  await receiver.stop();
  running.splice(running.indexOf(simulator), 1);
  running.splice(running.indexOf(receiver), 1);
  const last = steps.at(-1)!;
  return {
    devices_per_connection: layout,
    idle_receiver_rss_mib: mib(idle.receiver),
    idle_simulator_rss_mib: mib(idle.simulator),
    receiver_rss_mib_per_1000_streams: perThousand(steps, "receiver_rss_mib", idle.receiver),
    simulator_rss_mib_per_1000_streams: perThousand(steps, "simulator_rss_mib", idle.simulator),
    receiver_rss_mib_at_max: last.receiver_rss_mib,
    receiver_peak_mib: Math.max(...steps.map((s) => s.receiver_peak_mib)),
    simulator_rss_mib_at_max: last.simulator_rss_mib,
    sent: count(final.sent),
    acked: count(final.acked),
    rejected: count(final.rejected),
    throttled: count(final.throttled),
    reconnects: count(final.reconnects),
    ack_ms_p50: count(final.ackLatencyMsP50),
    ack_ms_p99: count(final.ackLatencyMsP99),
    steps,
  };
}

/** Least-squares slope of RSS over streams (the idle process at 0), in MiB per 1,000 streams. */
function perThousand(steps: Array<Record<string, number>>, field: string, idleBytes: number): number {
  const points = [[0, idleBytes / MiB], ...steps.map((s) => [s.streams!, s[field]!])] as Array<[number, number]>;
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length;
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return Math.round((num / den) * 1000 * 10) / 10;
}

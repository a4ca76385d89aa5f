/**
 * `npm run bench:abuse`: issue 12's attacks replayed against a running stack
 * (receiver, writer and query each in its own process, real JetStream and
 * PostgreSQL), while a simulated fleet and a signed-in user carry on as
 * normal. One phase of normal traffic only, then one phase per attack
 * (normal traffic continues):
 *
 * - item 2: 4 MiB batches with one packed chunk per reading, to the receiver;
 * - item 5: a flood of rejected batches (4 MiB, NaN, empty, old seq) with reconnects;
 * - item 8: 300 slow connections to the query port;
 * - item 1: 50 MB Login bodies and 200 MB gzip bombs to the query port, unauthenticated.
 *
 * Each phase ends once every process answers /healthz quickly again, so
 * what an attack leaves behind counts as its own.
 *
 * Per phase and process: the worst event-loop stall (Node's own
 * nodejs_eventloop_lag_max_seconds, scraped from its ops port at the start
 * and end of the phase, and the slowest /healthz answer, probed every 100 ms
 * from a worker thread so that the bench's own work does not count), the
 * RSS growth (peak during the phase over the RSS at its start) and the RSS
 * still held once the phase has settled. The bench's own event-loop stall
 * is reported beside them. Progress and a table go to stderr; the last line
 * of stdout is one JSON object.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { connectJetStreamBus } from "@vigil/bus";
import { migrateToLatest, openDatabase, sql } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import {
  checkLoss,
  createTestDatabase,
  freePort,
  type ServiceProcess,
  scriptArgs,
  startNats,
  startPostgres,
  startServiceProcess,
} from "@vigil/testkit";
import {
  type Attack,
  type AttackOutcome,
  deadLetterFlood,
  oversizedRequests,
  quadraticBatches,
  slowConnections,
} from "./abuse-attacks.ts";
import { MiB, memoryOf } from "./process-stats.ts";

const USAGE = `usage: npm run bench:abuse -- [--phase-s N] [--devices N] [--attacks LIST] [--profile DIR]
  --phase-s N      length of each phase: normal traffic, then each attack (default 10)
  --devices N      simulated devices sending normal traffic throughout (default 20)
  --attacks LIST   which attacks, in order, after the normal phase (default item2,item5,item8,item1)
  --profile DIR    CPU profiles (node --cpu-prof) of the receiver, writer and query, for
                   bench/src/cpuprofile-top.ts\n`;
const { values: flags, fail } = scriptArgs("bench:abuse", USAGE, {
  "phase-s": { type: "string", default: "10" },
  devices: { type: "string", default: "20" },
  attacks: { type: "string", default: "item2,item5,item8,item1" },
  profile: { type: "string" },
});
const phaseMs = Number(flags["phase-s"]) * 1000;
const devices = Number(flags.devices);
if (!(phaseMs >= 1000) || !(devices >= 1)) fail("--phase-s and --devices must be at least 1");

// Item 1 last by default: what it leaves behind in the query service (before its fix) takes long to clear.
const KNOWN_ATTACKS: Record<string, Attack> = {
  item2: quadraticBatches,
  item5: deadLetterFlood,
  item8: slowConnections,
  item1: oversizedRequests,
};
const ATTACKS: Array<[string, Attack | undefined]> = [
  ["normal", undefined],
  ...flags.attacks.split(",").map((name): [string, Attack] => {
    const attack = KNOWN_ATTACKS[name];
    if (!attack) throw new Error(`--attacks: unknown attack ${name} (known: ${Object.keys(KNOWN_ATTACKS).join(", ")})`);
    return [name, attack];
  }),
];
const profileDir = flags.profile ? resolve(flags.profile) : undefined;
const ADMIN_PASSWORD = "bench-abuse-admin-password";
const log = (msg: string) => process.stderr.write(`bench:abuse: ${msg}\n`);

interface Watched {
  name: string;
  pid: number;
  /** /healthz on the port the attacks use where it answers there (query), else the ops port. */
  health: string;
  /** /metrics, on the ops port. */
  metrics: string;
}

interface PhaseFigures {
  stall_ms: number;
  probe_max_ms: number;
  probe_failed: number;
  rss_growth_mb: number;
  rss_retained_mb: number;
}

const work = mkdtempSync(join(tmpdir(), "vigil-bench-abuse-"));
log("starting PostgreSQL and nats-server");
const pgServer = await startPostgres();
const nats = await startNats();
const running: ServiceProcess[] = [];
try {
  const databaseUrl = await createTestDatabase(pgServer.url, "abuse");
  const database = await openDatabase(databaseUrl);
  await migrateToLatest(database.db);
  const fleet = [];
  for (let n = 1; n <= devices; n++) {
    const { apiKey } = await createDevice({ db: database.db, actor: "system:bench" }, { code: "OR", number: n });
    fleet.push({ code: "OR", number: n, apiKey });
  }
  const attackers: string[] = [];
  for (let n = 1; n <= 6; n++) {
    attackers.push(
      (await createDevice({ db: database.db, actor: "system:bench" }, { code: "EVIL", number: n })).apiKey,
    );
  }
  const devicesFile = join(work, "devices.json");
  const ackedFile = join(work, "acked.json");
  writeFileSync(devicesFile, JSON.stringify(fleet), { mode: 0o600 });

  const [receiverPort, receiverOps, writerOps, queryPort, queryOps] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const env = {
    DATABASE_URL: databaseUrl,
    NATS_URL: nats.url,
    LOG_LEVEL: "info",
    RECEIVER_HOST: "127.0.0.1",
    RECEIVER_PORT: String(receiverPort),
    RECEIVER_OPS_PORT: String(receiverOps),
    WRITER_OPS_HOST: "127.0.0.1",
    WRITER_OPS_PORT: String(writerOps),
    QUERY_HOST: "127.0.0.1",
    QUERY_PORT: String(queryPort),
    QUERY_OPS_PORT: String(queryOps),
    AUTH_BOOTSTRAP_ADMIN_USERNAME: "admin",
    AUTH_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
  };
  log("starting receiver, writer and query, each its own process");
  // Written when a service exits (SIGTERM at the end); a worker thread writes its own, smaller one.
  const profiled = (name: string) =>
    profileDir ? { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(profileDir, name)}` } : env;
  const receiver = await startServiceProcess(
    "services/receiver/src/main.ts",
    profiled("receiver"),
    /receiver listening/,
  );
  running.push(receiver);
  const writer = await startServiceProcess("services/writer/src/main.ts", profiled("writer"), /writer consuming/);
  running.push(writer);
  const query = await startServiceProcess("services/query/src/main.ts", profiled("query"), /query service listening/);
  running.push(query);
  const queryUrl = `http://127.0.0.1:${queryPort}`;
  const ops = (port: number) => ({
    health: `http://127.0.0.1:${port}/healthz`,
    metrics: `http://127.0.0.1:${port}/metrics`,
  });
  const watched: Watched[] = [
    { name: "receiver", pid: receiver.child.pid!, ...ops(receiverOps) },
    { name: "writer", pid: writer.child.pid!, ...ops(writerOps) },
    // The query's /healthz also answers on its API port, the one items 1 and 8 go for.
    { name: "query", pid: query.child.pid!, ...ops(queryOps), health: `${queryUrl}/healthz` },
  ];

  const simulator = await startServiceProcess(
    "simulator/src/main.ts",
    { ...env, SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`, SIMULATOR_CONTROL_PORT: "0" },
    /simulator started/,
    [
      // Until stopped (SIGTERM), when every phase is over; it then writes what it saw acked.
      ...["--clock", "realtime", "--interval-ms", "200", "--batch-size", "10", "--duration-s", "0"],
      ...["--devices-file", devicesFile, "--acked-file", ackedFile, "--devices-per-connection", "10"],
    ],
  );
  running.push(simulator);
  const user = normalUser(queryUrl);
  const monitor = startMonitor(watched);

  const phases: Record<
    string,
    { figures: Record<string, PhaseFigures>; bench_stall_ms: number; outcome?: AttackOutcome }
  > = {};
  const target = { receiver: `127.0.0.1:${receiverPort}`, queryUrl, deviceKeys: attackers };
  for (const [name, attack] of ATTACKS) {
    const run = await attack?.(target);
    await settle(watched, 30_000);
    log(`phase ${name}`);
    await monitor.begin();
    const before = name === "item5" ? await deadLetterBytes(database) : 0;
    const untilMs = Date.now() + phaseMs;
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), phaseMs);
    const outcome = run ? await run(untilMs, stop.signal) : undefined;
    await new Promise((r) => setTimeout(r, Math.max(0, untilMs - Date.now())));
    clearTimeout(timer);
    stop.abort();
    // What the attack left behind (work still running, memory still held) counts as its phase.
    const recoveryMs = await settle(watched, 60_000);
    if (outcome) outcome.recovery_ms = recoveryMs;
    const figures = await monitor.end();
    if (outcome && name === "item5")
      outcome.dead_letters_mb = round(((await deadLetterBytes(database)) - before) / MiB);
    const bench = monitor.benchStallMs();
    phases[name] = { figures, bench_stall_ms: bench, ...(outcome ? { outcome } : {}) };
    for (const [process, f] of Object.entries(figures)) {
      log(
        `  ${process.padEnd(8)} stall ${String(f.stall_ms).padStart(7)} ms  slowest /healthz ${String(f.probe_max_ms).padStart(7)} ms (${f.probe_failed} failed)  RSS +${f.rss_growth_mb} MB peak, +${f.rss_retained_mb} MB settled`,
      );
    }
    log(`  the bench's own event loop: stall ${bench} ms`);
    if (outcome) log(`  ${JSON.stringify(outcome)}`);
  }
  await monitor.stop();
  user.stop();
  log("stopping the fleet, waiting for every acked reading to be stored");
  await simulator.stop();
  await waitUntilWritten(nats.url);
  const loss = await checkLoss(databaseUrl, ackedFile);
  await database.close();

  const worst = (pick: (f: PhaseFigures) => number, names: string[]) =>
    Math.max(...names.flatMap((n) => Object.values(phases[n]!.figures).map(pick)));
  const attackNames = ATTACKS.slice(1).map(([n]) => n);
  const summary = {
    normal: {
      stall_ms: worst((f) => Math.max(f.stall_ms, f.probe_max_ms), ["normal"]),
      rss_growth_mb: worst((f) => f.rss_growth_mb, ["normal"]),
      rss_retained_mb: worst((f) => f.rss_retained_mb, ["normal"]),
    },
    attacks: {
      stall_ms: worst((f) => Math.max(f.stall_ms, f.probe_max_ms), attackNames),
      rss_growth_mb: worst((f) => f.rss_growth_mb, attackNames),
      rss_retained_mb: worst((f) => f.rss_retained_mb, attackNames),
    },
    phases,
    normal_user_requests: user.counts,
    fleet: { acked_readings: loss.acked, lost: loss.lost, duplicates: loss.duplicates },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  for (const p of running.reverse()) await p.stop().catch(() => {});
  await nats.destroy();
  await pgServer.stop();
  rmSync(work, { recursive: true, force: true });
}

/**
 * Per process: event-loop stall from its own metrics, the slowest /healthz
 * (probed from a worker thread) and RSS; and the bench's own event-loop stall.
 */
function startMonitor(watched: Watched[]) {
  let rssStart = new Map<string, number>();
  let rssPeak = new Map<string, number>();
  const rss = (w: Watched) => {
    try {
      return memoryOf(w.pid).rss;
    } catch {
      return 0;
    }
  };
  const sampler = setInterval(() => {
    for (const w of watched) rssPeak.set(w.name, Math.max(rssPeak.get(w.name) ?? 0, rss(w)));
  }, 100);
  const prober = new Worker(new URL("./abuse-probe-worker.ts", import.meta.url), {
    workerData: watched.map((w) => ({ name: w.name, url: w.health })),
  });
  // An error that ends the bench early must not be kept waiting by the prober.
  prober.unref();
  const readProbes = () =>
    new Promise<Record<string, { max_ms: number; failed: number }>>((resolve) => {
      prober.once("message", resolve);
      prober.postMessage("read");
    });
  const ownLoop = monitorEventLoopDelay({ resolution: 10 });
  ownLoop.enable();
  return {
    async begin() {
      // Reading the metric resets Node's event-loop histogram: what the end reads is this phase's.
      await Promise.all(watched.map((w) => eventLoopMaxMs(w)));
      prober.postMessage("reset");
      ownLoop.reset();
      rssStart = new Map(watched.map((w) => [w.name, rss(w)]));
      rssPeak = new Map(rssStart);
    },
    async end(): Promise<Record<string, PhaseFigures>> {
      const [stalls, probes] = await Promise.all([Promise.all(watched.map((w) => eventLoopMaxMs(w))), readProbes()]);
      return Object.fromEntries(
        watched.map((w, i) => [
          w.name,
          {
            stall_ms: stalls[i]!,
            probe_max_ms: probes[w.name]?.max_ms ?? -1,
            probe_failed: probes[w.name]?.failed ?? -1,
            rss_growth_mb: round(((rssPeak.get(w.name) ?? 0) - (rssStart.get(w.name) ?? 0)) / MiB),
            rss_retained_mb: round((rss(w) - (rssStart.get(w.name) ?? 0)) / MiB),
          },
        ]),
      );
    },
    /** The bench process's own worst event-loop delay since begin(), in ms. */
    benchStallMs: () => Math.round(ownLoop.max / 1e6),
    async stop() {
      clearInterval(sampler);
      ownLoop.disable();
      prober.postMessage("stop");
      await new Promise((r) => prober.once("exit", r));
    },
  };
}

/**
 * Waits until every process answers /healthz within 100 ms ten times in a
 * row, about two seconds (at most `maxMs`); returns how long that took.
 */
async function settle(watched: Watched[], maxMs: number): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  while (quiet < 10 && performance.now() - started < maxMs) {
    const times = await Promise.all(
      watched.map(async (w) => {
        const t = performance.now();
        await fetch(w.health, { signal: AbortSignal.timeout(maxMs) })
          .then((r) => r.arrayBuffer())
          .catch(() => undefined);
        return performance.now() - t;
      }),
    );
    quiet = Math.max(...times) < 100 ? quiet + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  return Math.round(performance.now() - started);
}

/** nodejs_eventloop_lag_max_seconds of a process since its last scrape, in ms (-1 when it did not answer). */
async function eventLoopMaxMs(w: Watched): Promise<number> {
  try {
    const text = await (await fetch(w.metrics, { signal: AbortSignal.timeout(60_000) })).text();
    const m = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([0-9.eE+-]+)$/m.exec(text);
    return m ? Math.round(Number(m[1]) * 1000) : -1;
  } catch {
    return -1;
  }
}

/** A signed-in user listing the newest readings four times a second. */
function normalUser(queryUrl: string) {
  const counts: Record<string, number> = {};
  let stopped = false;
  void (async () => {
    let token = "";
    while (!stopped) {
      try {
        if (!token) {
          const res = await fetch(`${queryUrl}/vigil.auth.v1.AuthService/Login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
          });
          token = ((await res.json()) as { tokens?: { accessToken: string } }).tokens?.accessToken ?? "";
        }
        const res = await fetch(`${queryUrl}/vigil.readings.v1.ReadingService/ListReadings`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ pageSize: 20, order: "ORDER_NEWEST_FIRST" }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        counts[res.status] = (counts[res.status] ?? 0) + 1;
        if (res.status === 401) token = "";
      } catch {
        counts.failed = (counts.failed ?? 0) + 1;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    counts,
    stop() {
      stopped = true;
    },
  };
}

async function deadLetterBytes(database: Awaited<ReturnType<typeof openDatabase>>): Promise<number> {
  const { rows } = await sql<{ bytes: string }>`SELECT pg_total_relation_size('dead_letters')::text AS bytes`.execute(
    database.db,
  );
  return Number(rows[0]?.bytes ?? 0);
}

async function waitUntilWritten(natsUrl: string): Promise<void> {
  const bus = await connectJetStreamBus({
    servers: natsUrl,
    name: "vigil-bench-abuse",
    consumer: { durable: "vigil-writer", ackWaitMs: 30_000, maxDeliver: 10, maxAckPending: 20_000 },
    publishTimeoutMs: 5_000,
  });
  try {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const backlog = await bus.backlog();
      if (backlog.pending === 0 && backlog.ackPending === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await bus.close();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * `npm run bench:query` (issue #4): query latency on a month of a fleet's
 * readings. A private PostgreSQL (durable defaults) is filled the way
 * production would have it (see query-dataset.ts); the real query service
 * then runs as its own process and a signed-in web client sends
 * Connect-JSON requests over HTTP: a filtered first page, a deep page
 * reached through page tokens, and 30 days of hourly stats, interleaved,
 * warm-up excluded. Progress goes to stderr; the last line of stdout is one
 * JSON object with the results.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { DAY_MS, migrateToLatest, openDatabase, sql } from "@vigil/db";
import {
  createTestDatabase,
  ensureTools,
  freePort,
  type PostgresServer,
  type ServiceProcess,
  scriptArgs,
  startNats,
  startPostgres,
  startServiceProcess,
  TIMESCALEDB_MISSING,
  timescaledbBinDir,
} from "@vigil/testkit";
import { createUser } from "@vigil/users";
import { ConnectJsonClient, percentile } from "./connect-json.ts";
import { meterCpu } from "./cpu-meter.ts";
import { type IngestLoad, startIngestLoad } from "./ingest-load.ts";
import { postmasterPid } from "./process-stats.ts";
import { benchFleet, describeDataset, type LoadOutcome, loadDataset } from "./query-dataset.ts";

const USAGE = `usage: npm run bench:query -- [--readings 10000000] [--days 31] [--devices 100] [--iterations 100]
  --readings         readings to load, spread over --days ending now and --devices (40 % robots, 40 % monitors, 20 % rooms)
  --data-dir         where the loaded cluster is kept and reused by later runs of the same shape (default:
                     $TMPDIR/vigil-bench-query, or $TMPDIR/vigil-bench-query-timescaledb)
  --timescaledb      a TimescaleDB server (hypertable, continuous aggregates, chunks past 7 days compressed)
                     instead of plain PostgreSQL (partitions, rollup tables)
  --fresh            discard a kept dataset and load a new one
  --service-root     measure the query service of another checkout (e.g. before a change) on the same dataset
  --iterations       measured requests per query (after --warmup more), interleaved
  --wide-iterations  measured requests of the unfiltered first page and the fleet-wide stats (informative, no target)
  --deep-page        the page reached through page tokens (page size 100)
  --database-url     measure an already loaded database (one a --hold run keeps) instead of loading a new one
  --mixed-ingest N   while measuring, the dataset's robots send N readings/s through the receiver, a writer and
                     the lifecycle service (processes, as in production); the rows are deleted afterwards
  --explain          afterwards, print EXPLAIN (ANALYZE, BUFFERS) of the statements each request ran (auto_explain)
  --hold             keep PostgreSQL and the query service running at the end, until Ctrl+C
  --profile DIR      write a CPU profile of the query service (node --cpu-prof) into DIR when it stops;
                     summarise it with node bench/src/cpuprofile-top.ts\n`;
const {
  values: flags,
  fail,
  positiveInt: positive,
} = scriptArgs("bench:query", USAGE, {
  readings: { type: "string", default: "10000000" },
  days: { type: "string", default: "31" },
  devices: { type: "string", default: "100" },
  iterations: { type: "string", default: "100" },
  warmup: { type: "string", default: "10" },
  "wide-iterations": { type: "string", default: "20" },
  "deep-page": { type: "string", default: "50" },
  "database-url": { type: "string" },
  "data-dir": { type: "string" },
  timescaledb: { type: "boolean", default: false },
  fresh: { type: "boolean", default: false },
  "service-root": { type: "string" },
  explain: { type: "boolean", default: false },
  "mixed-ingest": { type: "string", default: "0" },
  hold: { type: "boolean", default: false },
  profile: { type: "string" },
});
const readings = positive(flags.readings, "--readings");
const days = positive(flags.days, "--days");
const devices = positive(flags.devices, "--devices");
const iterations = positive(flags.iterations, "--iterations");
const warmup = Number(flags.warmup);
const wideIterations = Number(flags["wide-iterations"]);
if (!Number.isInteger(warmup) || warmup < 0) fail("--warmup must be a whole number (0: none)");
if (!Number.isInteger(wideIterations) || wideIterations < 0) fail("--wide-iterations must be a whole number (0: none)");
const deepPage = positive(flags["deep-page"], "--deep-page");
const mixedIngest = Number(flags["mixed-ingest"]);
if (!(mixedIngest >= 0)) fail("--mixed-ingest must be a number of readings per second (0: none)");
if (days < 31) fail("--days must be at least 31: the stats query covers 30 days");
if (devices < 5) fail("--devices must be at least 5");
const PAGE_SIZE = 100;

interface BenchFilter {
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  startTime?: string;
  endTime?: string;
}

const log = (msg: string) => process.stderr.write(`bench:query: ${msg}\n`);
const began = performance.now();
const reuse = flags["database-url"];
const engine = flags.timescaledb ? "timescaledb" : "postgresql";
const dataDir =
  flags["data-dir"] ?? join(tmpdir(), flags.timescaledb ? "vigil-bench-query-timescaledb" : "vigil-bench-query");
/** Bump when loadDataset changes what it loads, so kept datasets are loaded again. */
const DATASET_VERSION = 1;
// Plain PostgreSQL keeps the shape of datasets kept before engines were a choice.
const shape = { version: DATASET_VERSION, readings, days, devices, ...(flags.timescaledb && { engine }) };
const markerFile = join(dataDir, "dataset.json");
interface Marker {
  shape: typeof shape;
  database: string;
  loadedAt: string;
  loaded: LoadOutcome;
}
// What a fresh clone lacks after `npm ci`, installed as `npm test` does.
ensureTools(["postgresql", "nats-server", ...(flags.timescaledb ? (["timescaledb"] as const) : [])]);
if (flags.timescaledb && !timescaledbBinDir()) fail(TIMESCALEDB_MISSING.replace("tests skipped", "unavailable"));
const serverOptions = flags.timescaledb ? ({ timescaledb: "preloaded" } as const) : {};
log("starting nats-server");
const nats = await startNats();
let pgServer: PostgresServer | undefined;
let query: ServiceProcess | undefined;
let cleaning: Promise<void> | undefined;
/**
 * Set while a mixed run's devices send: stops them and deletes what they stored. Also run when
 * measuring fails or is interrupted, so neither their processes nor their rows outlive the run
 * (a kept dataset holding more readings than its shape would be loaded anew: 20 minutes).
 */
let discardIngest: (() => Promise<void>) | undefined;
/** Stops what this run started (a kept cluster stays on disk); once, also on Ctrl+C or SIGTERM. */
const cleanUp = () => {
  cleaning ??= (async () => {
    await discardIngest?.().catch((error) => log(`mixed: could not discard the ingest: ${error}`));
    await query?.stop().catch(() => {});
    await Promise.all([pgServer?.stop(), nats.destroy()]);
  })();
  return cleaning;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}
try {
  const { databaseUrl, database, loaded, cachedFrom, migratedSince } = await openDataset();
  // Every query is placed relative to the dataset's end, so a kept dataset is measured as when it was loaded.
  const endMs = loaded.endMs;
  const { rows: size } = flags.timescaledb
    ? await sql<{ bytes: number }>`SELECT hypertable_size('readings')::float8 AS bytes`.execute(database.db)
    : await sql<{ bytes: number }>`
    SELECT sum(pg_total_relation_size(c.oid))::float8 AS bytes FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'readings'::regclass`.execute(database.db);
  log(
    `loaded in ${JSON.stringify(loaded.seconds)} s; readings take ${(Number(size[0]?.bytes) / 2 ** 30).toFixed(2)} GiB with indexes`,
  );

  // A web client's user: plain role (readings:read), created as `npx vigil users create` would.
  const username = `bench-${randomBytes(4).toString("hex")}`;
  const password = randomBytes(18).toString("base64url");
  await createUser(database.db, { username, password, role: "user" }, { actor: "system:bench" });
  const port = await freePort();
  const startQuery = () =>
    startServiceProcess(
      join(flags["service-root"] ?? ".", "services/query/src/main.ts"),
      {
        DATABASE_URL: databaseUrl,
        NATS_URL: nats.url,
        QUERY_HOST: "127.0.0.1",
        QUERY_PORT: String(port),
        QUERY_OPS_PORT: "0",
        LOG_LEVEL: "info",
        // The bench measures queries, not the per-user rate limit.
        QUERY_USER_REQUESTS_PER_MIN: "10000000",
        ...(flags.profile && {
          NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${resolve(flags.profile)} --cpu-prof-name=query-${engine}-${Date.now()}.cpuprofile`,
        }),
      },
      /query service listening/,
    );
  query = await startQuery();
  const client = new ConnectJsonClient(`http://127.0.0.1:${port}`);
  await client.login(username, password);

  const robots = benchFleet(loaded.devices)[0]!.devices;
  const robotSensors = ["joint1.angle_deg", "joint1.torque_nm", "motor.temperature_c", "motor.voltage_v"];
  const lastDay = Math.floor(endMs / DAY_MS) * DAY_MS;
  const iso = (ms: number) => new Date(ms).toISOString();

  interface Scenario {
    name: string;
    path: string;
    request(i: number): unknown;
    /** Throws when the answer is not what a client asked for. */
    check(body: unknown): void;
  }
  const pageCheck = (body: unknown) => {
    const n = (body as { readings?: unknown[] }).readings?.length ?? 0;
    if (n !== PAGE_SIZE) throw new Error(`expected a full page, got ${n} readings`);
  };
  const list = "vigil.readings.v1.ReadingService/ListReadings";
  const stats = "vigil.readings.v1.ReadingService/GetStats";

  // One robot's sensor over one whole UTC day, oldest first: varies the robot, sensor and day.
  const filtered: Scenario = {
    name: "filtered_page",
    path: list,
    request: (i) => {
      const start = lastDay - (1 + pick(i, 3, loaded.days - 2)) * DAY_MS;
      return {
        filter: {
          deviceCode: "OR",
          deviceNumber: 1 + pick(i, 1, robots),
          sensor: robotSensors[pick(i, 2, robotSensors.length)],
          startTime: iso(start),
          endTime: iso(start + DAY_MS),
        },
        pageSize: PAGE_SIZE,
      };
    },
    check: pageCheck,
  };

  // Page `deepPage` of one robot's readings (every sensor) over 7 days, newest first, reached by
  // following next_page_token: 12 such pages (robots and weeks varied), requested in turn.
  const deepRequest = (n: number, weekEndMs: number) => ({
    filter: { deviceCode: "OR", deviceNumber: n, startTime: iso(weekEndMs - 7 * DAY_MS), endTime: iso(weekEndMs) },
    pageSize: PAGE_SIZE,
    order: "ORDER_NEWEST_FIRST",
  });
  const deepTokens: Array<{ request: ReturnType<typeof deepRequest>; token: string }> = [];
  const walkMs: number[] = [];
  for (let k = 0; k < 12; k++) {
    const request = deepRequest(1 + pick(k, 4, robots), lastDay - pick(k, 5, loaded.days - 8) * DAY_MS);
    let token = "";
    for (let page = 1; page < deepPage; page++) {
      const { ms, body } = await client.call<{ nextPageToken?: string }>(list, { ...request, pageToken: token });
      walkMs.push(ms);
      if (!body.nextPageToken) throw new Error(`${JSON.stringify(request.filter)} has fewer than ${deepPage} pages`);
      token = body.nextPageToken;
    }
    deepTokens.push({ request, token });
  }
  log(`walked to page ${deepPage} of ${deepTokens.length} robots' weeks (${walkMs.length} pages)`);
  const deep: Scenario = {
    name: "deep_page",
    path: list,
    request: (i) => {
      const { request, token } = deepTokens[i % deepTokens.length]!;
      return { ...request, pageToken: token };
    },
    check: pageCheck,
  };

  // The issue's stats query: a chart of one robot's sensor over the last 30 days, one bucket per
  // hour, up to now (varies the robot and sensor). Also measured: the robot's dashboard, every
  // one of its sensors in one call (five times the buckets).
  const statsCheck = (buckets: number) => (body: unknown) => {
    const n = (body as { buckets?: unknown[] }).buckets?.length ?? 0;
    if (n < buckets) throw new Error(`expected at least ${buckets} buckets, got ${n}`);
  };
  // Up to the dataset's end, which was "now" when it was loaded: the newest hour is not yet in
  // the hourly rollup and comes from raw rows, as it would in production.
  const last30Days = () => ({ startTime: iso(endMs - 30 * DAY_MS), endTime: iso(endMs) });
  const chart: Scenario = {
    name: "stats_30d_hourly",
    path: stats,
    request: (i) => ({
      filter: {
        deviceCode: "OR",
        deviceNumber: 1 + pick(i, 6, robots),
        sensor: robotSensors[pick(i, 7, robotSensors.length)],
        ...last30Days(),
      },
      bucket: "1h",
    }),
    check: statsCheck(30 * 24),
  };
  const dashboard: Scenario = {
    name: "stats_30d_hourly_device",
    path: stats,
    request: (i) => ({
      filter: { deviceCode: "OR", deviceNumber: 1 + pick(i, 8, robots), ...last30Days() },
      bucket: "1h",
    }),
    check: statsCheck(5 * 30 * 24),
  };

  // The same HTTP, sign-in check and connection, for a filter that matches nothing: what the
  // machine's load does to any request during the run.
  const baseline: Scenario = {
    name: "baseline",
    path: list,
    request: () => ({ filter: { sensor: "bench.no_such_sensor" }, pageSize: PAGE_SIZE }),
    check: (body) => {
      if ((body as { readings?: unknown[] }).readings?.length) throw new Error("the baseline request found readings");
    },
  };

  // Informative, no target: the README's first call (no filter, newest first) and a fleet-wide chart.
  const wide: Scenario = {
    name: "unfiltered_page",
    path: list,
    request: () => ({ pageSize: PAGE_SIZE, order: "ORDER_NEWEST_FIRST" }),
    check: pageCheck,
  };
  const fleetStats: Scenario = {
    name: "stats_30d_hourly_fleet",
    path: stats,
    request: (i) => ({ filter: { sensor: robotSensors[i % robotSensors.length], ...last30Days() }, bucket: "1h" }),
    check: statsCheck(30 * 24),
  };

  const samples = new Map<string, number[]>();
  const facts = new Map<string, unknown>();
  const run = async (scenarios: Scenario[], rounds: number, skip: number) => {
    for (let i = 0; i < rounds + skip; i++) {
      for (const s of scenarios) {
        const { ms, body } = await client.call(s.path, s.request(i));
        s.check(body);
        if (i === 0) {
          const b = body as { totalSize?: string; buckets?: unknown[] };
          facts.set(
            s.name,
            b.totalSize !== undefined ? { total_size: Number(b.totalSize) } : { buckets: b.buckets?.length },
          );
        }
        if (i >= skip) samples.set(s.name, [...(samples.get(s.name) ?? []), ms]);
      }
    }
  };
  let ingest: IngestLoad | undefined;
  let ingestCpu: ReturnType<typeof meterCpu> | undefined;
  if (mixedIngest > 0) {
    log(`mixed: ${robots} robots send ${mixedIngest.toLocaleString("en")} readings/s meanwhile; 10 s to settle`);
    ingest = await startIngestLoad({
      databaseUrl,
      natsUrl: nats.url,
      work: mkdtempSync(join(tmpdir(), "vigil-bench-query-mixed-")),
      code: "OR",
      devices: robots,
      readingsPerS: mixedIngest,
      batchSize: 100,
    });
    const pg = postmasterPid(Number(new URL(databaseUrl).port));
    ingestCpu = meterCpu({
      ...Object.fromEntries(Object.entries(ingest.pids).map(([name, pid]) => [name, [pid]])),
      query: [query.child.pid!],
      ...(pg ? { postgres: [pg] } : {}),
    });
    const running = ingest;
    discardIngest = async () => {
      discardIngest = undefined;
      await running.stop().catch(() => {});
      await deleteIngested(databaseUrl, endMs);
    };
    await new Promise((r) => setTimeout(r, 10_000));
  }
  const loadBefore = loadavg(); // the machine's load as measuring starts (1, 5, 15 min)
  // CPU time per request of the query service and of PostgreSQL (with a mixed run's ingest in it):
  // what a change to the service saves, which the machine's load stretches far less than latency.
  const pgPid = postmasterPid(Number(new URL(databaseUrl).port));
  const measuredCpu = meterCpu({ query: [query.child.pid!], ...(pgPid ? { postgres: [pgPid] } : {}) });
  log(`measuring: ${warmup} + ${iterations} rounds of baseline, filtered page, deep page, 30-day hourly stats`);
  await run([baseline, filtered, deep, chart, dashboard], iterations, warmup);
  if (wideIterations > 0) {
    log(`measuring: ${Math.min(2, warmup)} + ${wideIterations} rounds of the unfiltered page and fleet-wide stats`);
    await run([wide, fleetStats], wideIterations, Math.min(2, warmup));
  }

  const cpuSeconds = measuredCpu.stop();
  const requestsMeasured =
    (iterations + warmup) * 5 + (wideIterations > 0 ? (wideIterations + Math.min(2, warmup)) * 2 : 0);

  // total_size is an estimate above 1,000 matches: the exact counts of the first requests beside it.
  for (const s of [filtered, deep, wide]) {
    const f = (s.request(0) as { filter?: BenchFilter }).filter ?? {};
    const where = [
      sql`r.deleted_at IS NULL`,
      ...(f.deviceCode ? [sql`d.code = ${f.deviceCode}`] : []),
      ...(f.deviceNumber ? [sql`d.number = ${f.deviceNumber}`] : []),
      ...(f.sensor ? [sql`s.name = ${f.sensor}`] : []),
      ...(f.startTime ? [sql`r.time >= ${new Date(f.startTime)}`] : []),
      ...(f.endTime ? [sql`r.time < ${new Date(f.endTime)}`] : []),
    ];
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::float8 AS n FROM readings r JOIN devices d ON d.id = r.device_id JOIN sensors s ON s.id = r.sensor_id
      WHERE ${sql.join(where, sql` AND `)}`.execute(database.db);
    facts.set(s.name, { ...(facts.get(s.name) as object), exact: Number(rows[0]?.n) });
  }

  // Ingest keeps running through --explain (its plans are the ones under load); stopped below.
  const round = (ms: number) => Math.round(ms * 10) / 10;
  const figures: Record<string, number> = {};
  for (const [name, ms] of samples) {
    figures[`${name}_ms_p50`] = round(percentile(ms, 50));
    figures[`${name}_ms_p95`] = round(percentile(ms, 95));
    figures[`${name}_ms_p99`] = round(percentile(ms, 99));
  }
  const pageP95 = Math.max(figures.filtered_page_ms_p95!, figures.deep_page_ms_p95!);
  const result = {
    engine,
    readings: loaded.readings,
    devices: loaded.devices,
    series: loaded.series,
    days: loaded.days,
    robot_sample_period_s: round(loaded.robotPeriodMs / 1000),
    dataset_kept_from: cachedFrom ?? null,
    migrations_applied_to_kept_dataset: migratedSince,
    readings_gib: Math.round((Number(size[0]?.bytes) / 2 ** 30) * 100) / 100,
    load_s: round(loaded.seconds.devices + loaded.seconds.insert + loaded.seconds.maintenance + loaded.seconds.vacuum),
    load_insert_s: loaded.seconds.insert,
    load_maintenance_s: loaded.seconds.maintenance,
    load_vacuum_s: loaded.seconds.vacuum,
    ...figures,
    deep_page_walk_ms_p50: round(percentile(walkMs, 50)),
    requests_measured: requestsMeasured,
    query_service_cpu_ms_per_request: round((1000 * (cpuSeconds.query ?? 0)) / requestsMeasured),
    postgres_cpu_ms_per_request: round((1000 * (cpuSeconds.postgres ?? 0)) / requestsMeasured),
    first_answers: Object.fromEntries(facts),
    iterations,
    warmup,
    page_target_met: pageP95 < 50,
    stats_target_met: figures.stats_30d_hourly_ms_p95! < 200,
    // Issue 16, while ingest holds its pace: ListReadings p95 < 100 ms, 30-day GetStats p95 < 250 ms.
    mixed: (ingest
      ? { list_target_met: pageP95 < 100, stats_target_met: figures.stats_30d_hourly_ms_p95! < 250 }
      : undefined) as Record<string, unknown> | undefined,
    loadavg_before: loadBefore.map(round),
    loadavg_after: loadavg().map(round),
    total_s: 0,
  };

  if (flags.explain) {
    // Plans of the statements the service itself runs: auto_explain in new sessions.
    await query.stop();
    const dbName = new URL(databaseUrl).pathname.slice(1);
    const settings = {
      session_preload_libraries: "auto_explain",
      "auto_explain.log_min_duration": "0",
      "auto_explain.log_analyze": "on",
      "auto_explain.log_buffers": "on",
      "auto_explain.log_nested_statements": "on",
    };
    for (const [k, v] of Object.entries(settings)) {
      await sql`ALTER DATABASE ${sql.id(dbName)} SET ${sql.raw(k)} = ${sql.lit(v)}`.execute(database.db);
    }
    const { rows } = await sql<{ dir: string }>`SELECT current_setting('data_directory') AS dir`.execute(database.db);
    const logFile = join(dirname(rows[0]!.dir), "log");
    query = await startQuery();
    await client.login(username, password);
    for (const s of [filtered, deep, chart, dashboard, wide, fleetStats]) {
      const from = statSync(logFile).size;
      await client.call(s.path, s.request(0));
      await new Promise((r) => setTimeout(r, 200));
      const text = readFileSync(logFile, "utf8").slice(from);
      const plans = text.split(/(?=^\S.*LOG: {2}duration: )/m).filter((p) => /\breadings/.test(p));
      process.stderr.write(`\n===== ${s.name}: ${JSON.stringify(s.request(0))}\n${plans.join("\n")}\n`);
    }
    await sql`ALTER DATABASE ${sql.id(dbName)} RESET ALL`.execute(database.db);
  }
  if (ingest) {
    const cpu = ingestCpu!.stop();
    discardIngest = undefined;
    const { summary, seconds } = await ingest.stop();
    const ackedPerS = summary.readingsAcked / seconds;
    await deleteIngested(databaseUrl, endMs);
    result.mixed = {
      ingest_target_readings_per_s: mixedIngest,
      ingest_acked_readings_per_s: Math.round(ackedPerS),
      ingest_held_pace: ackedPerS >= 0.95 * mixedIngest,
      ack_latency_ms_p99: summary.ackLatencyMs.p99,
      steady_ack_latency_ms_p99: summary.recentAckLatencyMs.p99,
      rejected: summary.rejected,
      cpu_s: cpu,
      ...result.mixed,
    };
  }

  await database.close();

  result.total_s = round((performance.now() - began) / 1000);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (flags.hold) {
    log(
      `holding: psql '${databaseUrl}', query service http://127.0.0.1:${port} (${username} / ${password}); Ctrl+C ends`,
    );
    await new Promise<void>(() => {}); // until Ctrl+C (the handler below)
  }
} finally {
  await cleanUp();
}

/** The database to measure: the one --database-url names, a kept dataset, or a new one, loaded. */
async function openDataset() {
  if (reuse) {
    const database = await openDatabase(reuse);
    const loaded = await describeDataset(database.db);
    log(`measuring ${loaded.readings.toLocaleString("en")} readings already loaded`);
    return { databaseUrl: reuse, database, loaded, cachedFrom: undefined, migratedSince: [] };
  }
  // A dataset kept by an earlier run is reused when it has this shape and holds every reading;
  // otherwise it is loaded again. Migrations added since are applied to it, as an upgrade would
  // apply them to a production database, then statistics are refreshed (ANALYZE, as autovacuum
  // would); `--fresh` loads it anew instead.
  if (flags.fresh) rmSync(dataDir, { recursive: true, force: true });
  const marker = existsSync(markerFile) ? (JSON.parse(readFileSync(markerFile, "utf8")) as Marker) : undefined;
  if (marker && JSON.stringify(marker.shape) === JSON.stringify(shape)) {
    log(`starting PostgreSQL (durable defaults) on the dataset kept in ${dataDir}`);
    pgServer = await startPostgres({ dir: join(dataDir, "cluster"), ...serverOptions });
    const url = new URL(pgServer.url);
    url.pathname = `/${marker.database}`;
    const databaseUrl = url.toString();
    const database = await openDatabase(databaseUrl);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::float8 AS n FROM readings`.execute(database.db);
    if (Number(rows[0]?.n) === readings) {
      const { applied } = await migrateToLatest(database.db);
      if (applied.length > 0) {
        log(`applied ${applied.join(", ")} to the kept dataset`);
        await sql`ANALYZE`.execute(database.db);
      }
      log(`reusing ${readings.toLocaleString("en")} readings loaded ${marker.loadedAt} (--fresh loads anew)`);
      return { databaseUrl, database, loaded: marker.loaded, cachedFrom: marker.loadedAt, migratedSince: applied };
    }
    log(`the kept dataset holds ${Number(rows[0]?.n)} readings, not ${readings}: loading anew`);
    await database.close();
    await pgServer.stop();
  }
  rmSync(dataDir, { recursive: true, force: true });
  log(`starting PostgreSQL (durable defaults) in ${dataDir}`);
  pgServer = await startPostgres({ dir: join(dataDir, "cluster"), ...serverOptions });
  const databaseUrl = await createTestDatabase(pgServer.url, "bench");
  const database = await openDatabase(databaseUrl);
  await migrateToLatest(database.db);
  const endMs = Math.floor(Date.now() / 1000) * 1000;
  log(`loading ${readings.toLocaleString("en")} readings over ${days} days`);
  const loaded = await loadDataset(database.db, databaseUrl, { readings, days, devices, endMs, log });
  const kept: Marker = {
    shape,
    database: new URL(databaseUrl).pathname.slice(1),
    loadedAt: new Date().toISOString(),
    loaded,
  };
  writeFileSync(markerFile, `${JSON.stringify(kept, null, 2)}\n`);
  return { databaseUrl, database, loaded, cachedFrom: undefined, migratedSince: [] };
}

/** What a mixed run's devices sent is not part of the dataset: gone again, so a kept dataset stays as loaded. */
async function deleteIngested(databaseUrl: string, endMs: number): Promise<void> {
  const database = await openDatabase(databaseUrl);
  try {
    const { numAffectedRows } = await sql`DELETE FROM readings WHERE time >= ${new Date(endMs)}`.execute(database.db);
    await sql`VACUUM (ANALYZE) readings`.execute(database.db);
    log(`mixed: ingest stopped; ${Number(numAffectedRows)} readings it stored deleted again`);
  } finally {
    await database.close();
  }
}

/** A well-spread number in [0, n) for request i: each salt varies its own part of a filter independently. */
function pick(i: number, salt: number, n: number): number {
  let h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return ((h ^ (h >>> 15)) >>> 0) % n;
}

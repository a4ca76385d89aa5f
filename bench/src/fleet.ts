/**
 * `npm run bench:fleet` (issue #15): the fleet layer on a seeded history.
 *
 * 1. A private PostgreSQL (kept in --data-dir and reused) gets the demo
 *    seed: --robots robots at --sites sites over --days days (`vigil demo
 *    seed`). The real query service runs as its own process; a signed-in
 *    plain user measures over Connect-JSON GetFleetSummary for a year (the
 *    year varied), GetProcedureTelemetry of procedures with raw telemetry
 *    and of old ones (aggregates), and a baseline call (GetSite), in
 *    --rounds rounds.
 * 2. A second database gets --forecast-robots robots with enough condition
 *    history for the forecast window; every one of their forecasts is
 *    recomputed --forecast-runs times.
 * 3. --accuracy-runs fresh databases each get a validation fleet whose
 *    parts' wear is known (forecast-accuracy.ts): the forecasts' error for
 *    parts half-way to failure and the share of healthy parts flagged.
 *
 * Progress goes to stderr; the last line of stdout is one JSON object.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS, migrateToLatest, openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { seedDemo } from "@vigil/demo";
import { DEFAULT_FORECAST_SETTINGS, recomputeForecasts } from "@vigil/maintenance";
import {
  createTestDatabase,
  freePort,
  type PostgresServer,
  type ServiceProcess,
  scriptArgs,
  startNats,
  startPostgres,
  startServiceProcess,
} from "@vigil/testkit";
import { createUser } from "@vigil/users";
import { ConnectJsonClient, percentile } from "./connect-json.ts";
import { measureForecastAccuracy } from "./forecast-accuracy.ts";

const USAGE = `usage: npm run bench:fleet -- [--robots 50] [--sites 10] [--days 730] [--rounds 3] [--iterations 100]
                           [--forecast-robots 1000] [--forecast-runs 3] [--accuracy-runs 3] [--accuracy-robots 50]
  --data-dir   where the seeded cluster is kept; a later run reuses it (the seed is idempotent and only adds new days)
  targets: GetFleetSummary for a year p95 < 200 ms, GetProcedureTelemetry p95 < 100 ms,
           forecasts of --forecast-robots robots recomputed < 60 s, half-way crossing error (median) <= 15 %,
           healthy parts flagged <= 5 %\n`;
const { values: flags, fail } = scriptArgs("bench:fleet", USAGE, {
  robots: { type: "string", default: "50" },
  sites: { type: "string", default: "10" },
  days: { type: "string", default: "730" },
  iterations: { type: "string", default: "100" },
  warmup: { type: "string", default: "10" },
  rounds: { type: "string", default: "3" },
  "forecast-robots": { type: "string", default: "1000" },
  "forecast-runs": { type: "string", default: "3" },
  "accuracy-runs": { type: "string", default: "3" },
  "accuracy-robots": { type: "string", default: "50" },
  "data-dir": { type: "string", default: join(tmpdir(), "vigil-bench-fleet") },
});
const int = (name: keyof typeof flags, min = 1) => {
  const n = Number(flags[name]);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer of at least ${min}`);
  return n;
};
const robots = int("robots");
const sites = int("sites");
const days = int("days", 366);
const iterations = int("iterations");
const warmup = int("warmup", 0);
const rounds = int("rounds");
const forecastRobots = int("forecast-robots");
const forecastRuns = int("forecast-runs");
const accuracyRuns = int("accuracy-runs", 0);
const accuracyRobots = int("accuracy-robots");
const dataDir = flags["data-dir"]!;

const log = (msg: string) => process.stderr.write(`bench:fleet: ${msg}\n`);
const round1 = (ms: number) => Math.round(ms * 10) / 10;
const began = performance.now();

log("starting nats-server and PostgreSQL");
const nats = await startNats();
mkdirSync(dataDir, { recursive: true });
let pg: PostgresServer | undefined;
let query: ServiceProcess | undefined;
let cleaning: Promise<void> | undefined;
const cleanUp = () => {
  cleaning ??= (async () => {
    await query?.stop().catch(() => {});
    await Promise.all([pg?.stop(), nats.destroy()]);
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
  pg = await startPostgres({ dir: join(dataDir, "cluster") });
  const server = pg;
  /** A database of the kept cluster, made on first use and named in the marker file. */
  const keptDatabase = async (key: string): Promise<{ url: string; database: VigilDatabase }> => {
    const markerFile = join(dataDir, "databases.json");
    const names = existsSync(markerFile)
      ? (JSON.parse(readFileSync(markerFile, "utf8")) as Record<string, string>)
      : {};
    let url: string;
    if (names[key]) {
      const u = new URL(server.url);
      u.pathname = `/${names[key]}`;
      url = u.toString();
    } else {
      url = await createTestDatabase(server.url, key);
      names[key] = new URL(url).pathname.slice(1);
      writeFileSync(markerFile, `${JSON.stringify(names, null, 2)}\n`);
    }
    const database = await openDatabase(url);
    await migrateToLatest(database.db);
    return { url, database };
  };

  // 1. The seeded fleet, and the queries on it.
  const fleetKey = `fleet_${robots}_${sites}_${days}`;
  const { url: fleetUrl, database: fleetDb } = await keptDatabase(fleetKey);
  log(
    `seeding ${robots} robots at ${sites} sites over ${days} days (kept in ${dataDir}; a rerun adds only what is missing)`,
  );
  let lastLog = 0;
  const seed = await seedDemo(fleetDb.db, {
    robots,
    sites,
    days,
    actor: "system:bench",
    onProgress: (p) => {
      if (performance.now() - lastLog < 10_000 && p.done !== p.total) return;
      lastLog = performance.now();
      log(`seed: ${p.phase} ${p.done}/${p.total}${p.rows ? `, ${p.rows.toLocaleString("en")} rows` : ""}`);
    },
  });
  log(`seeded in ${(seed.durationMs / 1000).toFixed(1)} s: ${JSON.stringify(seed)}`);
  await sql`ANALYZE`.execute(fleetDb.db);
  const endMs = Date.parse(seed.to);
  const { rows: recent } = await sql<{ id: string }>`
    SELECT id FROM procedures WHERE started_at >= ${new Date(endMs - DAY_MS)} AND ended_at < ${new Date(endMs)}
    ORDER BY id LIMIT 200`.execute(fleetDb.db);
  const { rows: old } = await sql<{ id: string }>`
    SELECT id FROM procedures WHERE started_at < ${new Date(endMs - 30 * DAY_MS)} ORDER BY id LIMIT 200`.execute(
    fleetDb.db,
  );
  if (recent.length === 0 || old.length === 0) fail("the seeded fleet has no procedures to measure");

  const username = `bench-${randomBytes(4).toString("hex")}`;
  const password = randomBytes(18).toString("base64url");
  await createUser(fleetDb.db, { username, password, role: "user" }, { actor: "system:bench" });
  const port = await freePort();
  query = await startServiceProcess(
    "services/query/src/main.ts",
    {
      DATABASE_URL: fleetUrl,
      NATS_URL: nats.url,
      QUERY_HOST: "127.0.0.1",
      QUERY_PORT: String(port),
      LOG_LEVEL: "info",
      QUERY_USER_REQUESTS_PER_MIN: "10000000",
    },
    /query service listening/,
  );
  const client = new ConnectJsonClient(`http://127.0.0.1:${port}`);
  await client.login(username, password);
  const iso = (ms: number) => new Date(ms).toISOString();
  const scenarios = [
    { name: "baseline_get_site", path: "vigil.fleet.v1.FleetService/GetSite", request: () => ({ name: "st-marys" }) },
    {
      name: "fleet_summary_year",
      path: "vigil.fleet.v1.FleetService/GetFleetSummary",
      // A year ending at the seed's end or up to (days − 365) days before it.
      request: (i: number) => {
        const end = endMs - ((i * 37) % (days - 365)) * DAY_MS;
        return { startTime: iso(end - 365 * DAY_MS), endTime: iso(end) };
      },
      check: (b: { robots?: unknown[] }) => {
        if ((b.robots?.length ?? 0) !== robots) throw new Error(`summary has ${b.robots?.length} robots`);
      },
    },
    {
      name: "procedure_telemetry_raw",
      path: "vigil.procedures.v1.ProcedureService/GetProcedureTelemetry",
      request: (i: number) => ({ id: recent[i % recent.length]!.id }),
      check: (b: { source?: string; readings?: unknown[] }) => {
        if (b.source !== "TELEMETRY_SOURCE_RAW" || (b.readings?.length ?? 0) !== 100) {
          throw new Error(`raw telemetry: ${b.source}, ${b.readings?.length} readings`);
        }
      },
    },
    {
      name: "procedure_telemetry_aggregates",
      path: "vigil.procedures.v1.ProcedureService/GetProcedureTelemetry",
      request: (i: number) => ({ id: old[i % old.length]!.id }),
    },
  ];
  const roundsOut: Array<Record<string, number>> = [];
  for (let r = 0; r < rounds; r++) {
    const samples = new Map<string, number[]>();
    for (let i = 0; i < iterations + warmup; i++) {
      for (const s of scenarios) {
        const { ms, body } = await client.call(s.path, s.request(i + r * iterations));
        (s as { check?: (b: unknown) => void }).check?.(body);
        if (i >= warmup) samples.set(s.name, [...(samples.get(s.name) ?? []), ms]);
      }
    }
    const figures: Record<string, number> = {};
    for (const [name, ms] of samples) {
      figures[`${name}_ms_p50`] = round1(percentile(ms, 50));
      figures[`${name}_ms_p95`] = round1(percentile(ms, 95));
      figures[`${name}_ms_p99`] = round1(percentile(ms, 99));
    }
    log(`round ${r + 1}: ${JSON.stringify(figures)}`);
    roundsOut.push(figures);
  }
  await query.stop();
  query = undefined;
  const { rows: size } = await sql<{ procedures: number; readings: number; maintenance: number }>`
    SELECT (SELECT count(*) FROM procedures)::float8 AS procedures, (SELECT count(*) FROM readings)::float8 AS readings,
           (SELECT count(*) FROM maintenance_records)::float8 AS maintenance`.execute(fleetDb.db);
  await fleetDb.close();

  // 2. Forecasts for a large fleet.
  const { database: forecastDb } = await keptDatabase(`forecast_${forecastRobots}`);
  const forecastDays = DEFAULT_FORECAST_SETTINGS.windowMs / DAY_MS + 30;
  log(`seeding ${forecastRobots} robots with ${forecastDays} days of condition history`);
  lastLog = 0;
  const forecastSeed = await seedDemo(forecastDb.db, {
    robots: forecastRobots,
    sites,
    days: forecastDays,
    code: "FC",
    telemetryDays: 0,
    actor: "system:bench",
    onProgress: (p) => {
      if (performance.now() - lastLog < 10_000 && p.done !== p.total) return;
      lastLog = performance.now();
      log(`seed: ${p.phase} ${p.done}/${p.total}${p.rows ? `, ${p.rows.toLocaleString("en")} rows` : ""}`);
    },
  });
  await sql`ANALYZE`.execute(forecastDb.db);
  const { rows: ids } = await sql<{ id: number }>`SELECT id FROM devices WHERE code = 'FC' ORDER BY id`.execute(
    forecastDb.db,
  );
  const deviceIds = ids.map((r) => r.id);
  const forecastRunsOut: Array<{ seconds: number; forecasts: number; byStatus: Record<string, number> }> = [];
  for (let r = 0; r < forecastRuns; r++) {
    const outcome = await recomputeForecasts(forecastDb.db, DEFAULT_FORECAST_SETTINGS, { deviceIds });
    const run = {
      seconds: round1(outcome.durationMs / 1000),
      forecasts: outcome.forecasts,
      byStatus: outcome.byStatus,
    };
    log(`forecasts of ${outcome.devices} robots, run ${r + 1}: ${JSON.stringify(run)}`);
    forecastRunsOut.push(run);
  }
  await forecastDb.close();

  // 3. Accuracy against the ground truth, each run in a fresh database.
  const accuracy = [];
  for (let r = 1; r <= accuracyRuns; r++) {
    const database = await openDatabase(await createTestDatabase(server.url, "accuracy"));
    try {
      await migrateToLatest(database.db);
      const result = await measureForecastAccuracy(database.db, {
        robots: accuracyRobots,
        run: r,
        nowMs: Date.now(),
        settings: DEFAULT_FORECAST_SETTINGS,
      });
      log(`accuracy run ${r}: ${JSON.stringify(result)}`);
      accuracy.push(result);
    } finally {
      await database.close();
    }
  }

  const worst = (key: string) => Math.max(...roundsOut.map((f) => f[key]!));
  const result = {
    robots,
    sites,
    days,
    seed_s: round1(seed.durationMs / 1000),
    seed,
    dataset: { procedures: size[0]!.procedures, readings: size[0]!.readings, maintenance: size[0]!.maintenance },
    rounds: roundsOut,
    iterations,
    forecast_robots: forecastRobots,
    forecast_seed_s: round1(forecastSeed.durationMs / 1000),
    forecast_runs: forecastRunsOut,
    accuracy: accuracy.map((a) => ({
      half_way: a.halfWay,
      half_way_median_abs_rel_error: Math.round(a.halfWayMedianAbsRelError * 1000) / 1000,
      half_way_p90_abs_rel_error: Math.round(a.halfWayP90AbsRelError * 1000) / 1000,
      half_way_interval_coverage: Math.round(a.halfWayIntervalCoverage * 1000) / 1000,
      healthy: a.healthy,
      healthy_flagged_share: Math.round(a.healthyFlaggedShare * 1000) / 1000,
    })),
    targets: {
      fleet_summary_year_p95_lt_200ms: worst("fleet_summary_year_ms_p95") < 200,
      procedure_telemetry_p95_lt_100ms:
        worst("procedure_telemetry_raw_ms_p95") < 100 && worst("procedure_telemetry_aggregates_ms_p95") < 100,
      forecasts_lt_60s: forecastRunsOut.every((r) => r.seconds < 60),
      half_way_error_le_15pct: accuracy.every((a) => a.halfWayMedianAbsRelError <= 0.15),
      healthy_flagged_le_5pct: accuracy.every((a) => a.healthyFlaggedShare <= 0.05),
    },
    loadavg: loadavg().map(round1),
    total_s: round1((performance.now() - began) / 1000),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await cleanUp();
}

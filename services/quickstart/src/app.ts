import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { type AlerterApp, createAlerterApp, loadAlerterConfig } from "@vigil/alerter";
import { createRule, listRules, type RuleSpec } from "@vigil/alerts";
import { createMemoryBus, type ReadingBus } from "@vigil/bus";
import { EMBEDDED_PREFIX, migrateToLatest, openDatabase, type VigilDatabase } from "@vigil/db";
import { seedDemo } from "@vigil/demo";
import { createDevice, DeviceError, replaceDeviceKey } from "@vigil/devices";
import { createLifecycleApp, type LifecycleApp, loadLifecycleConfig } from "@vigil/lifecycle";
import { createQueryApp, loadQueryConfig, type QueryApp, TokenSigner } from "@vigil/query";
import { createReceiverApp, loadReceiverConfig, type ReceiverApp } from "@vigil/receiver";
import type { App, Logger } from "@vigil/runtime";
import { createSimulatorApp, type DeviceIdentity, loadSimulatorConfig, type SimulatorApp } from "@vigil/simulator";
import { ensureDevTls } from "@vigil/tls";
import { createUser, hasAdmin } from "@vigil/users";
import { createWriterApp, loadWriterConfig, type WriterApp } from "@vigil/writer";
import type { QuickstartConfig } from "./config.ts";

export interface QuickstartDeps {
  logger: Logger;
  env: Record<string, string | undefined>;
  /** Where the banner and status lines go. */
  print: (line: string) => void;
}

export interface QuickstartApp extends App {
  readonly receiver: ReceiverApp | undefined;
  readonly query: QueryApp | undefined;
  readonly writer: WriterApp | undefined;
  readonly lifecycle: LifecycleApp | undefined;
  readonly alerter: AlerterApp | undefined;
}

const DEMO_CODE = "DEMO";

/**
 * Receiver, writer, query, lifecycle and a small simulator fleet in one process, on
 * the embedded TimescaleDB and the in-process bus unless DATABASE_URL and
 * NATS_URL point at real ones. For trying Vigil: the in-process bus is not
 * durable.
 */
export function createQuickstartApp(config: QuickstartConfig, deps: QuickstartDeps): QuickstartApp {
  const env = { ...deps.env, DATABASE_URL: config.DATABASE_URL, LOG_LEVEL: config.LOG_LEVEL };
  const log = deps.logger;
  let database: VigilDatabase | undefined;
  let bus: ReadingBus | undefined;
  let receiver: ReceiverApp | undefined;
  let writer: WriterApp | undefined;
  let query: QueryApp | undefined;
  let lifecycle: LifecycleApp | undefined;
  let simulator: SimulatorApp | undefined;
  let alerter: AlerterApp | undefined;
  let status: NodeJS.Timeout | undefined;

  return {
    get receiver() {
      return receiver;
    },
    get query() {
      return query;
    },
    get writer() {
      return writer;
    },
    get lifecycle() {
      return lifecycle;
    },
    get alerter() {
      return alerter;
    },

    async start() {
      mkdirSync(config.QUICKSTART_STATE_DIR, { recursive: true });
      if (config.DATABASE_URL.startsWith(EMBEDDED_PREFIX)) {
        const dir = config.DATABASE_URL.slice(EMBEDDED_PREFIX.length);
        if (dir !== "memory") mkdirSync(dirname(dir), { recursive: true });
      }
      database = await openDatabase(config.DATABASE_URL, { applicationName: "vigil-quickstart" });
      await migrateToLatest(database.db);
      const adminPassword = await quickstartAdmin(database, config.QUICKSTART_STATE_DIR);
      const demo = config.QUICKSTART_DEMO_SEED
        ? await demoSeed(database, config.QUICKSTART_DEMO_SEED, deps.print)
        : undefined;
      const jwtKeys = await quickstartJwtKeys(config.QUICKSTART_STATE_DIR);
      const useNats = config.NATS_URL !== "";
      const queryPort = deps.env.QUERY_PORT ?? "8080";
      // A development CA and server certificate, made once and kept: trust ca.pem once.
      const tls = config.QUICKSTART_TLS
        ? await ensureDevTls(join(config.QUICKSTART_STATE_DIR, "tls"), ["localhost", "127.0.0.1", "::1", hostname()])
        : undefined;
      const scheme = tls ? "https" : "http";
      const serviceEnv = {
        ...env,
        // This machine only, unless asked: the banner prints the admin password.
        RECEIVER_HOST: deps.env.RECEIVER_HOST ?? config.QUICKSTART_HOST,
        QUERY_HOST: deps.env.QUERY_HOST ?? config.QUICKSTART_HOST,
        ...(useNats ? { NATS_URL: config.NATS_URL } : {}),
        AUTH_JWT_KEYS: deps.env.AUTH_JWT_KEYS ?? jwtKeys,
        // Pages from the quick start's own address may call it (the console, tools on it).
        QUERY_CORS_ORIGINS:
          deps.env.QUERY_CORS_ORIGINS ?? `${scheme}://127.0.0.1:${queryPort},${scheme}://localhost:${queryPort}`,
        // Plaintext stays on loopback: listening wider needs QUICKSTART_TLS=true (or ALLOW_PLAINTEXT=true).
        ...(tls ? { TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile } : {}),
        // For trying Vigil: grpcurl and buf curl without proto files, and the API's description.
        RECEIVER_REFLECTION: deps.env.RECEIVER_REFLECTION ?? "true",
        QUERY_REFLECTION: deps.env.QUERY_REFLECTION ?? "true",
        QUERY_API_DOCS: deps.env.QUERY_API_DOCS ?? "true",
      };
      if (!useNats) {
        bus = createMemoryBus({ duplicateWindowMs: 120_000, maxBatches: 100_000 });
      }
      receiver = createReceiverApp(loadReceiverConfig(serviceEnv), {
        logger: log.child({ service: "receiver" }),
        opsServer: false,
        database,
        bus,
      });
      writer = createWriterApp(loadWriterConfig(serviceEnv), {
        logger: log.child({ service: "writer" }),
        opsServer: false,
        database,
        bus,
      });
      // The query service's ops port serves the whole process: /metrics of every service in it.
      query = createQueryApp(loadQueryConfig(serviceEnv), { logger: log.child({ service: "query" }), database, bus });
      // Its first run waits until the fleet is streaming, so start-up stays quick.
      lifecycle = createLifecycleApp(loadLifecycleConfig({ ...serviceEnv, ARCHIVE_URL: config.ARCHIVE_URL }), {
        logger: log.child({ service: "lifecycle" }),
        opsServer: false,
        database,
        firstRunDelayMs: 10_000,
      });
      // Alerts are printed; webhooks may go to a receiver on this machine (loopback is allowed).
      alerter = createAlerterApp(
        loadAlerterConfig({
          ...serviceEnv,
          ALERTER_WEBHOOK_ALLOWED_CIDRS: deps.env.ALERTER_WEBHOOK_ALLOWED_CIDRS ?? "127.0.0.0/8,::1/128",
          ALERTER_PARTITIONS: deps.env.ALERTER_PARTITIONS ?? "4",
          ALERTER_FEED_MAX_BYTES: deps.env.ALERTER_FEED_MAX_BYTES ?? String(64 * 1024 * 1024),
        }),
        {
          logger: log.child({ service: "alerter" }),
          opsServer: false,
          database,
          bus,
          member: "quickstart",
          announce: (line) => deps.print(line),
        },
      );
      await receiver.start();
      await writer.start();
      await query.start();
      await lifecycle.start();
      await demoRules(database);
      await alerter.start();

      const devices = await demoDevices(database, config.QUICKSTART_DEVICES);
      // Some of the seeded robots carry on live: procedures recorded through the API, as the admin.
      const live = demo ? await liveRobots(database, Math.min(config.QUICKSTART_DEMO_LIVE_ROBOTS, demo.robots)) : [];
      devices.push(...live);
      if (devices.length > 0) {
        const recording =
          live.length > 0 && adminPassword
            ? {
                SIMULATOR_PROCEDURES: "true",
                SIMULATOR_QUERY_URL: `http://${dialable(serviceEnv.QUERY_HOST)}:${query.port}`,
                SIMULATOR_QUERY_USERNAME: "admin",
                SIMULATOR_QUERY_PASSWORD: adminPassword,
              }
            : {};
        simulator = createSimulatorApp(
          loadSimulatorConfig(
            {
              ...serviceEnv,
              ...recording,
              SIMULATOR_TARGET: `${dialable(serviceEnv.RECEIVER_HOST)}:${receiver.port}`,
              // The certificate names localhost; TLS does not send an IP address as the server name.
              ...(tls ? { SIMULATOR_TLS_CA_FILE: tls.caFile, SIMULATOR_TLS_SERVER_NAME: "localhost" } : {}),
            },
            [],
          ),
          // Its control API (127.0.0.1) lets a person inject faults and watch the alerts come.
          { logger: log.child({ service: "simulator" }), devices },
        );
        await simulator.start();
      }
      banner(deps.print, config, {
        host: dialable(serviceEnv.QUERY_HOST),
        exposed: !isLoopback(serviceEnv.QUERY_HOST) || !isLoopback(serviceEnv.RECEIVER_HOST),
        grpcPort: receiver.port,
        httpPort: query.port,
        opsPort: query.opsPort,
        controlPort: simulator?.controlPort,
        devices: devices.length - live.length,
        adminPassword,
        demo: demo && { robots: demo.robots, live: live.length },
        caFile: tls?.caFile,
      });
      const w = writer;
      status = setInterval(
        () => deps.print(`stored ${w.stats.inserted} readings from ${w.stats.batches} batches`),
        10_000,
      );
      status.unref();
    },

    async stop() {
      clearInterval(status);
      await simulator?.stop();
      await alerter?.stop();
      await receiver?.stop();
      await writer?.stop();
      await lifecycle?.stop();
      await query?.stop();
      await bus?.close();
      await database?.close();
    },
  };
}

/** The demo seed's robots carry this code. */
const SEED_CODE = "ROB";

/** Loads (or tops up) the demo fleet's history, printing progress. */
async function demoSeed(
  database: VigilDatabase,
  spec: string,
  print: (line: string) => void,
): Promise<{ robots: number }> {
  const [robots, sites, days] = spec.split("/").map(Number) as [number, number, number];
  print(
    `Seeding the demo fleet: ${robots} robots at ${sites} sites over ${days} days (later starts add only new days)…`,
  );
  let shown = -1;
  const outcome = await seedDemo(database.db, {
    robots,
    sites,
    days,
    code: SEED_CODE,
    actor: "system:quickstart",
    onProgress: (p) => {
      const step = Math.floor((10 * p.done) / Math.max(1, p.total));
      if (p.phase === "robots" && step !== shown) {
        shown = step;
        print(`  robots ${p.done}/${p.total}, ${(p.rows ?? 0).toLocaleString("en")} rows`);
      } else if (p.phase !== "robots" && p.done === 0) print(`  ${p.phase}…`);
    },
  });
  print(
    `  done in ${(outcome.durationMs / 1000).toFixed(0)} s: ${outcome.procedures} procedures, ` +
      `${outcome.maintenanceRecords} maintenance records, ${outcome.conditionReadings + outcome.telemetryReadings} readings written`,
  );
  return { robots };
}

/** ROB-1..n of the demo seed, with fresh keys, to run live. */
async function liveRobots(database: VigilDatabase, count: number): Promise<DeviceIdentity[]> {
  const out: DeviceIdentity[] = [];
  for (let n = 1; n <= count; n++) {
    const ref = { code: SEED_CODE, number: n };
    const { apiKey } = await replaceDeviceKey({ db: database.db, actor: "system:quickstart" }, ref);
    out.push({ ...ref, apiKey });
  }
  return out;
}

/**
 * A few sensible rules on the demo patient monitors, created on the first
 * start (a database that has rules keeps its own).
 */
async function demoRules(database: VigilDatabase): Promise<void> {
  if ((await listRules(database.db, { limit: 1 })).length > 0) return;
  const ctx = { db: database.db, actor: "system:quickstart" };
  const demo = { codes: [DEMO_CODE] };
  const rules: RuleSpec[] = [
    {
      name: "Tachycardia",
      description: "Heart rate above 130 bpm for 10 seconds.",
      severity: "critical",
      devices: demo,
      sensors: ["patient.heart_rate_bpm"],
      condition: { kind: "threshold", comparison: "above", value: 130, forMs: 10_000, hysteresis: 5 },
      channelIds: [],
      enabled: true,
    },
    {
      name: "Low SpO2",
      description: "Oxygen saturation below 90 % for 10 seconds.",
      severity: "critical",
      devices: demo,
      sensors: ["patient.spo2_pct"],
      condition: { kind: "threshold", comparison: "below", value: 90, forMs: 10_000, hysteresis: 2 },
      channelIds: [],
      enabled: true,
    },
    {
      name: "Heart rate anomaly",
      description: "A heart-rate reading far from the patient's recent ones.",
      severity: "warning",
      devices: demo,
      sensors: ["patient.heart_rate_bpm"],
      condition: { kind: "anomaly", sensitivity: 6, warmupSamples: 100, halfLifeSamples: 5 },
      channelIds: [],
      enabled: true,
    },
    {
      name: "Monitor silent",
      description: "No readings from a monitor for 30 seconds.",
      severity: "critical",
      devices: demo,
      sensors: [],
      condition: { kind: "absence", silentForMs: 30_000 },
      channelIds: [],
      enabled: true,
    },
  ];
  for (const rule of rules) await createRule(ctx, rule);
}

/** DEMO-1..n with fresh keys; keys from earlier runs are revoked. */
async function demoDevices(database: VigilDatabase, count: number): Promise<DeviceIdentity[]> {
  const out: DeviceIdentity[] = [];
  for (let n = 1; n <= count; n++) {
    const input = { code: DEMO_CODE, number: n };
    const admin = { db: database.db, actor: "system:quickstart" };
    let issued: { apiKey: string };
    try {
      issued = await createDevice(admin, { ...input, kind: "patient_monitor", site: "demo" });
    } catch (err) {
      if (!(err instanceof DeviceError && err.kind === "exists")) throw err;
      issued = await replaceDeviceKey(admin, input);
    }
    out.push({ ...input, apiKey: issued.apiKey });
  }
  return out;
}

/**
 * The quick start's admin: created on the first start with a random
 * password kept (0600) in the state directory, so every start can print it.
 * Undefined when an admin exists whose password the quick start does not know.
 */
async function quickstartAdmin(database: VigilDatabase, stateDir: string): Promise<string | undefined> {
  const file = join(stateDir, "admin-password");
  if (await hasAdmin(database.db)) return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
  const password = randomBytes(15).toString("base64url");
  await createUser(database.db, { username: "admin", password, role: "admin" }, { actor: "system:quickstart" });
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** A token-signing key kept in the state directory, so sign-ins survive restarts. */
async function quickstartJwtKeys(stateDir: string): Promise<string> {
  const file = join(stateDir, "jwt-keys.json");
  if (!existsSync(file))
    writeFileSync(file, JSON.stringify({ keys: [await TokenSigner.generateJwk()] }), { mode: 0o600 });
  return readFileSync(file, "utf8");
}

/** An address to connect to for a listen address (a wildcard means this machine). */
function dialable(host: string): string {
  return host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

interface Endpoints {
  host: string;
  exposed: boolean;
  grpcPort: number;
  httpPort: number;
  opsPort: number;
  controlPort: number | undefined;
  devices: number;
  adminPassword: string | undefined;
  demo?: { robots: number; live: number };
  /** The development CA when serving TLS. */
  caFile: string | undefined;
}

function banner(print: (line: string) => void, config: QuickstartConfig, e: Endpoints) {
  const { grpcPort, httpPort, devices, host, caFile } = e;
  // With TLS the certificate names localhost (and 127.0.0.1): curl checks the name it dials.
  const shown = caFile && (host === "127.0.0.1" || host === "::1") ? "localhost" : host;
  const base = `${caFile ? "https" : "http"}://${shown}:${httpPort}`;
  const curl = caFile ? `curl --cacert ${caFile}` : "curl";
  const password = e.adminPassword ?? "<your admin password>";
  const db = config.DATABASE_URL.startsWith(EMBEDDED_PREFIX)
    ? `embedded TimescaleDB in ${config.DATABASE_URL.slice(EMBEDDED_PREFIX.length)}`
    : "PostgreSQL from DATABASE_URL";
  const busText = config.NATS_URL
    ? "NATS JetStream from NATS_URL"
    : "in-process bus (not durable: for trying Vigil only)";
  print(
    [
      "",
      "Vigil quick start is running",
      `  database:   ${db}`,
      `  bus:        ${busText}`,
      `  receiver:   ${caFile ? "grpcs" : "grpc"}://${shown}:${grpcPort}  (vigil.ingest.v1.IngestService)`,
      `  console:    ${base}/  (sign in as admin)`,
      `  query:      ${base}  (Connect-JSON, gRPC, gRPC-Web; /openapi.json)`,
      `  ops:        ${caFile ? "https" : "http"}://${shown}:${e.opsPort}  (/metrics, /healthz, /readyz)`,
      `  API docs:   ${base}/api-docs/  (every call, from /openapi.json)`,
      ...(caFile
        ? [
            `  TLS:        every port, certificate from the development CA ${caFile}`,
            `              (trust it in the browser, or: grpcurl -cacert ${caFile} localhost:${grpcPort} list)`,
          ]
        : []),
      `  simulator:  ${devices} devices (${DEMO_CODE}-1..${devices}), one batch per second each${e.controlPort ? `; control http://127.0.0.1:${e.controlPort}` : ""}`,
      "  alerter:    4 demo rules on the monitors; alerts are printed below",
      "",
      `Sign in as admin (password ${password}, kept in ${join(config.QUICKSTART_STATE_DIR, "admin-password")}):`,
      `  TOKEN=$(${curl} -s -X POST ${base}/vigil.auth.v1.AuthService/Login -H 'content-type: application/json' \\`,
      `    -d '{"username": "admin", "password": "${password}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).tokens.accessToken')`,
      "",
      "List the newest readings:",
      `  ${curl} -s -X POST ${base}/vigil.readings.v1.ReadingService/ListReadings -H "authorization: Bearer $TOKEN" \\`,
      `    -H 'content-type: application/json' -d '{"pageSize": 5, "order": "ORDER_NEWEST_FIRST"}'`,
      "",
      ...(e.demo
        ? [
            `Demo fleet: ${SEED_CODE}-1..${e.demo.robots} with their history; ${e.demo.live} of them live, performing procedures.`,
            "The robots due for maintenance, soonest first:",
            `  curl -s -X POST ${base}/vigil.maintenance.v1.MaintenanceService/ListMaintenanceForecasts -H "authorization: Bearer $TOKEN" \\`,
            `    -H 'content-type: application/json' -d '{"pageSize": 5}'`,
            "",
          ]
        : []),
      ...(e.exposed
        ? [
            caFile
              ? "Listening beyond this machine (TLS): anyone who can reach it can try to sign in."
              : "Listening beyond this machine: anyone who can reach it can try to sign in, in plaintext.",
            "The quick start is for trying Vigil; set QUICKSTART_HOST=127.0.0.1 (the default) to close it.",
            "",
          ]
        : []),
      "Alerts (four demo rules run; raised and resolved alerts are printed here):",
      `  curl -s -X POST ${base}/vigil.alerts.v1.AlertService/ListAlerts -H "authorization: Bearer $TOKEN" \\`,
      `    -H 'content-type: application/json' -d '{"pageSize": 5}'`,
      ...(e.controlPort
        ? [
            "Make DEMO-1's heart race for a minute (the Tachycardia rule fires after 10 s):",
            `  curl -s -X POST http://127.0.0.1:${e.controlPort}/vigil.simulator.v1.SimulatorService/InjectFault \\`,
            `    -H 'content-type: application/json' -d '{"deviceCode": "DEMO", "deviceNumber": 1, "sensor": "patient.heart_rate_bpm", "kind": "FAULT_KIND_STEP", "magnitude": 25}'`,
          ]
        : []),
      "Send them to a webhook on this machine (docs/alerts.md):",
      `  curl -s -X POST ${base}/vigil.alerts.v1.AlertService/CreateNotificationChannel -H "authorization: Bearer $TOKEN" \\`,
      `    -H 'content-type: application/json' -d '{"channel": {"name": "local", "webhook": {"url": "http://127.0.0.1:9999/hook"}}}'`,
      "",
      "Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );
}

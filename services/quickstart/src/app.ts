import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createMemoryBus, type ReadingBus } from "@vigil/bus";
import { EMBEDDED_PREFIX, migrateToLatest, openDatabase, type VigilDatabase } from "@vigil/db";
import { createDevice, DeviceError, replaceDeviceKey } from "@vigil/devices";
import { createMaintainerApp, loadMaintainerConfig, type MaintainerApp } from "@vigil/maintainer";
import { createQueryApp, loadQueryConfig, type QueryApp, TokenSigner } from "@vigil/query";
import { createReceiverApp, loadReceiverConfig, type ReceiverApp } from "@vigil/receiver";
import type { App, Logger } from "@vigil/runtime";
import { createSimulatorApp, type DeviceIdentity, loadSimulatorConfig, type SimulatorApp } from "@vigil/simulator";
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
  readonly maintainer: MaintainerApp | undefined;
}

const DEMO_CODE = "DEMO";

/**
 * Receiver, writer, query, maintainer and a small simulator fleet in one process, on
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
  let maintainer: MaintainerApp | undefined;
  let simulator: SimulatorApp | undefined;
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
    get maintainer() {
      return maintainer;
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
      const jwtKeys = await quickstartJwtKeys(config.QUICKSTART_STATE_DIR);
      const useNats = config.NATS_URL !== "";
      const serviceEnv = {
        ...env,
        ...(useNats ? { NATS_URL: config.NATS_URL } : {}),
        AUTH_JWT_KEYS: deps.env.AUTH_JWT_KEYS ?? jwtKeys,
      };
      if (!useNats) {
        bus = createMemoryBus({ duplicateWindowMs: 120_000, maxDeliver: 10, maxBatches: 100_000 });
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
      query = createQueryApp(loadQueryConfig(serviceEnv), { logger: log.child({ service: "query" }), database, bus });
      // Its first run waits until the fleet is streaming, so start-up stays quick.
      maintainer = createMaintainerApp(loadMaintainerConfig({ ...serviceEnv, ARCHIVE_URL: config.ARCHIVE_URL }), {
        logger: log.child({ service: "maintainer" }),
        opsServer: false,
        database,
        firstRunDelayMs: 10_000,
      });
      await receiver.start();
      await writer.start();
      await query.start();
      await maintainer.start();

      const devices = await demoDevices(database, config.QUICKSTART_DEVICES);
      if (devices.length > 0) {
        simulator = createSimulatorApp(
          loadSimulatorConfig({ ...serviceEnv, SIMULATOR_TARGET: `127.0.0.1:${receiver.port}` }, []),
          { logger: log.child({ service: "simulator" }), devices, control: false },
        );
        await simulator.start();
      }
      banner(deps.print, config, {
        grpcPort: receiver.port,
        httpPort: query.port,
        devices: devices.length,
        adminPassword,
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
      await receiver?.stop();
      await writer?.stop();
      await maintainer?.stop();
      await query?.stop();
      await bus?.close();
      await database?.close();
    },
  };
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

interface Endpoints {
  grpcPort: number;
  httpPort: number;
  devices: number;
  adminPassword: string | undefined;
}

function banner(print: (line: string) => void, config: QuickstartConfig, e: Endpoints) {
  const { grpcPort, httpPort, devices } = e;
  const base = `http://127.0.0.1:${httpPort}`;
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
      `  receiver:   grpc://127.0.0.1:${grpcPort}  (vigil.ingest.v1.IngestService)`,
      `  console:    ${base}/  (sign in as admin)`,
      `  query:      http://127.0.0.1:${httpPort}  (Connect-JSON, gRPC, gRPC-Web; /healthz, /readyz, /openapi.json)`,
      `  simulator:  ${devices} devices (${DEMO_CODE}-1..${devices}), one batch per second each`,
      "",
      `Sign in as admin (password ${password}, kept in ${join(config.QUICKSTART_STATE_DIR, "admin-password")}):`,
      `  TOKEN=$(curl -s -X POST ${base}/vigil.auth.v1.AuthService/Login -H 'content-type: application/json' \\`,
      `    -d '{"username": "admin", "password": "${password}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).tokens.accessToken')`,
      "",
      "List the newest readings:",
      `  curl -s -X POST ${base}/vigil.readings.v1.ReadingService/ListReadings -H "authorization: Bearer $TOKEN" \\`,
      `    -H 'content-type: application/json' -d '{"pageSize": 5, "order": "ORDER_NEWEST_FIRST"}'`,
      "",
      "Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );
}

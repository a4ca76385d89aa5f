import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createMemoryBus, type ReadingBus } from "@vigil/bus";
import { EMBEDDED_PREFIX, migrateToLatest, openDatabase, type VigilDatabase } from "@vigil/db";
import { createDevice, DeviceError, replaceDeviceKey } from "@vigil/devices";
import { createMaintainerApp, loadMaintainerConfig, type MaintainerApp } from "@vigil/maintainer";
import { createQueryApp, loadQueryConfig, type QueryApp } from "@vigil/query";
import { createReceiverApp, loadReceiverConfig, type ReceiverApp } from "@vigil/receiver";
import type { App, Logger } from "@vigil/runtime";
import { createSimulatorApp, type DeviceIdentity, loadSimulatorConfig, type SimulatorApp } from "@vigil/simulator";
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
      if (config.DATABASE_URL.startsWith(EMBEDDED_PREFIX)) {
        const dir = config.DATABASE_URL.slice(EMBEDDED_PREFIX.length);
        if (dir !== "memory") mkdirSync(dirname(dir), { recursive: true });
      }
      database = await openDatabase(config.DATABASE_URL, { applicationName: "vigil-quickstart" });
      await migrateToLatest(database.db);
      const useNats = config.NATS_URL !== "";
      const serviceEnv = useNats ? { ...env, NATS_URL: config.NATS_URL } : env;
      if (!useNats) {
        bus = createMemoryBus({ duplicateWindowMs: 120_000, maxDeliver: 10, maxBatches: 100_000 });
      }
      receiver = createReceiverApp(loadReceiverConfig(serviceEnv), {
        logger: log.child({ service: "receiver" }),
        database,
        bus,
      });
      writer = createWriterApp(loadWriterConfig(serviceEnv), {
        logger: log.child({ service: "writer" }),
        database,
        bus,
      });
      query = createQueryApp(loadQueryConfig(serviceEnv), { logger: log.child({ service: "query" }), database });
      // Its first run waits until the fleet is streaming, so start-up stays quick.
      maintainer = createMaintainerApp(loadMaintainerConfig({ ...serviceEnv, ARCHIVE_URL: config.ARCHIVE_URL }), {
        logger: log.child({ service: "maintainer" }),
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
          { logger: log.child({ service: "simulator" }), devices },
        );
        await simulator.start();
      }
      banner(deps.print, config, receiver.port, query.port, devices.length);
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
    let issued: { apiKey: string } | undefined;
    try {
      issued = await createDevice(database.db, input);
    } catch (err) {
      if (!(err instanceof DeviceError && err.kind === "exists")) throw err;
      issued = await replaceDeviceKey(database.db, input);
    }
    if (issued) out.push({ ...input, apiKey: issued.apiKey });
  }
  return out;
}

function banner(
  print: (line: string) => void,
  config: QuickstartConfig,
  grpcPort: number,
  httpPort: number,
  devices: number,
) {
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
      `  query:      http://127.0.0.1:${httpPort}  (Connect-JSON, gRPC, gRPC-Web; /healthz, /readyz)`,
      `  simulator:  ${devices} devices (${DEMO_CODE}-1..${devices}), one batch per second each`,
      "",
      "List the newest readings:",
      `  curl -s -X POST http://127.0.0.1:${httpPort}/vigil.readings.v1.ReadingService/ListReadings \\`,
      `    -H 'content-type: application/json' -d '{"pageSize": 5, "order": "ORDER_NEWEST_FIRST"}'`,
      "",
      "Press Ctrl+C to stop.",
      "",
    ].join("\n"),
  );
}

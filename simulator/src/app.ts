import { writeFileSync } from "node:fs";
import { openDatabase } from "@vigil/db";
import type { App, Logger } from "@vigil/runtime";
import { type SimulatorConfig, simulatorTls } from "./config.ts";
import { type ControlServer, type FleetControl, startControlServer } from "./control-service.ts";
import { readDevicesFile } from "./devices-file.ts";
import { Fleet } from "./fleet.ts";
import type { FleetSummary } from "./fleet-stats.ts";
import { connectRecorder, type ProcedureRecorder, passwordFrom } from "./procedure-recorder.ts";
import { provisionDevices } from "./provision.ts";
import { robotBehaviourFor } from "./robot-behaviours.ts";
import { parseShard, type Shard, selectShard, shardNumbers } from "./shard.ts";
import type { DeviceIdentity } from "./simulated-device.ts";

export interface SimulatorDeps {
  logger: Logger;
  /** Device keys given directly (quick start, tests); otherwise from the config. */
  devices?: DeviceIdentity[];
  /** Where the final summary goes as one JSON line. */
  printSummary?: (summary: FleetSummary) => void;
  /** Serve the control API (SimulatorService); default true. The quick start embeds a fleet without it. */
  control?: boolean;
}

export interface SimulatorApp extends App {
  readonly fleet: Fleet | undefined;
  /** The control API's port once started; undefined without it. */
  readonly controlPort: number | undefined;
  summary(): FleetSummary | undefined;
}

/**
 * Runs this process's shard of a fleet of simulated devices against a
 * receiver, with the control API (start, stop, interval, summary) beside it.
 */
export function createSimulatorApp(config: SimulatorConfig, deps: SimulatorDeps): SimulatorApp {
  const log = deps.logger;
  const shard = parseShard(config.SIMULATOR_SHARD)!;
  let fleet: Fleet | undefined;
  let control: ControlServer | undefined;
  let progress: NodeJS.Timeout | undefined;
  let finish: (() => void) | undefined;
  const finished = config.SIMULATOR_DURATION_S > 0 ? new Promise<void>((r) => (finish = r)) : undefined;

  /** This shard's devices: its share of the devices file (or given list), plus those it registers. */
  async function identities(): Promise<DeviceIdentity[]> {
    const given = deps.devices ?? (config.SIMULATOR_DEVICES_FILE ? readDevicesFile(config.SIMULATOR_DEVICES_FILE) : []);
    const list = selectShard(given, shard);
    if (config.SIMULATOR_PROVISION > 0) list.push(...(await provision(config, shard)));
    if (list.length === 0) {
      throw new Error(
        given.length > 0
          ? `shard ${config.SIMULATOR_SHARD} of ${given.length} devices is empty`
          : "no devices: pass --devices-file or --provision N with DATABASE_URL",
      );
    }
    return list;
  }

  return {
    get fleet() {
      return fleet;
    },
    get controlPort() {
      return control?.port;
    },
    finished,
    summary: () => fleet?.summary(),

    async start() {
      const recorder = procedureRecorder(config, log);
      fleet = new Fleet(await identities(), {
        behaviourFor: config.SIMULATOR_PROCEDURES
          ? robotBehaviourFor({
              procedureMs: config.SIMULATOR_PROCEDURE_S * 1000,
              gapMs: config.SIMULATOR_PROCEDURE_GAP_S * 1000,
              recorder,
            })
          : undefined,
        target: config.SIMULATOR_TARGET,
        tls: simulatorTls(config),
        devicesPerConnection: config.SIMULATOR_DEVICES_PER_CONNECTION,
        intervalMs: config.SIMULATOR_INTERVAL_MS,
        samplesPerBatch: config.SIMULATOR_BATCH_SIZE,
        maxBufferedBatches: config.SIMULATOR_MAX_BUFFERED_BATCHES,
        clock: config.SIMULATOR_CLOCK,
        maxBatches: config.SIMULATOR_BATCHES,
      });
      const running = fleet;
      if (deps.control !== false) {
        control = await startControlServer(fleetControl(running, config, shard), {
          host: config.SIMULATOR_CONTROL_HOST,
          port: config.SIMULATOR_CONTROL_PORT,
          logger: log,
        });
      }
      if (config.SIMULATOR_AUTOSTART) void running.start();
      log.info(
        {
          devices: running.devices.length,
          target: config.SIMULATOR_TARGET,
          shard: config.SIMULATOR_SHARD,
          autostart: config.SIMULATOR_AUTOSTART,
          controlPort: control?.port,
        },
        "simulator started",
      );
      progress = setInterval(() => log.info(running.summary(), "fleet progress"), 10_000);
      progress.unref();
      if (finish) setTimeout(finish, config.SIMULATOR_DURATION_S * 1000);
    },

    async stop() {
      clearInterval(progress);
      await control?.close();
      await fleet?.stop();
      const summary = fleet?.summary();
      if (fleet && config.SIMULATOR_ACKED_FILE)
        writeFileSync(config.SIMULATOR_ACKED_FILE, JSON.stringify(ackedByDevice(fleet)));
      if (summary) {
        log.info(summary, "simulator stopped");
        deps.printSummary?.(summary);
      }
    },
  };
}

/** Where robots record procedures and maintenance: the query service, when configured. */
function procedureRecorder(config: SimulatorConfig, log: Logger): ProcedureRecorder | undefined {
  const password = passwordFrom(config.SIMULATOR_QUERY_PASSWORD, config.SIMULATOR_QUERY_PASSWORD_FILE);
  if (!config.SIMULATOR_QUERY_URL) return undefined;
  if (!config.SIMULATOR_QUERY_USERNAME || !password) {
    throw new Error("SIMULATOR_QUERY_URL needs SIMULATOR_QUERY_USERNAME and SIMULATOR_QUERY_PASSWORD(_FILE)");
  }
  return connectRecorder({
    baseUrl: config.SIMULATOR_QUERY_URL,
    username: config.SIMULATOR_QUERY_USERNAME,
    password,
    log,
  });
}

/** Registers this shard's part of CODE-1..N (all of them for 1/1), in bulk. */
async function provision(config: SimulatorConfig, shard: Shard): Promise<DeviceIdentity[]> {
  if (!config.DATABASE_URL) throw new Error("--provision needs DATABASE_URL");
  const database = await openDatabase(config.DATABASE_URL);
  try {
    return await provisionDevices(
      database.db,
      config.SIMULATOR_CODE,
      shardNumbers(1, config.SIMULATOR_PROVISION, shard),
    );
  } finally {
    await database.close();
  }
}

function fleetControl(fleet: Fleet, config: SimulatorConfig, shard: Shard): FleetControl {
  return {
    deviceCount: fleet.devices.length,
    start: (devices) => fleet.start(devices),
    stop: () => fleet.stop(),
    setIntervalMs: (ms) => fleet.setIntervalMs(ms),
    settings: () => ({
      intervalMs: fleet.intervalMs,
      batchSize: config.SIMULATOR_BATCH_SIZE,
      devicesPerConnection: fleet.devicesPerConnection,
      shard,
    }),
    summary: () => fleet.summary(),
    injectFault: (input) => fleet.injectFault(input),
    faults: () => fleet.faults,
  };
}

function ackedByDevice(fleet: Fleet): Record<string, Array<[number, number]>> {
  return Object.fromEntries(fleet.devices.map((d) => [`${d.identity.code}-${d.identity.number}`, [...d.acked]]));
}

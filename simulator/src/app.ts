import { writeFileSync } from "node:fs";
import { openDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import type { App, Logger } from "@vigil/runtime";
import type { SimulatorConfig } from "./config.ts";
import { readDevicesFile } from "./devices-file.ts";
import { Fleet } from "./fleet.ts";
import type { FleetSummary } from "./fleet-stats.ts";
import type { DeviceIdentity } from "./simulated-device.ts";

export interface SimulatorDeps {
  logger: Logger;
  /** Device keys given directly (quick start, tests); otherwise from the config. */
  devices?: DeviceIdentity[];
  /** Where the final summary goes as one JSON line. */
  printSummary?: (summary: FleetSummary) => void;
}

export interface SimulatorApp extends App {
  readonly fleet: Fleet | undefined;
  summary(): FleetSummary | undefined;
}

/** Runs a fleet of simulated devices against a receiver. */
export function createSimulatorApp(config: SimulatorConfig, deps: SimulatorDeps): SimulatorApp {
  const log = deps.logger;
  let fleet: Fleet | undefined;
  let progress: NodeJS.Timeout | undefined;
  let finish: (() => void) | undefined;
  const finished = config.SIMULATOR_DURATION_S > 0 ? new Promise<void>((r) => (finish = r)) : undefined;

  async function identities(): Promise<DeviceIdentity[]> {
    if (deps.devices) return deps.devices;
    const list = config.SIMULATOR_DEVICES_FILE ? readDevicesFile(config.SIMULATOR_DEVICES_FILE) : [];
    if (config.SIMULATOR_PROVISION > 0) list.push(...(await provision(config)));
    if (list.length === 0) throw new Error("no devices: pass --devices-file or --provision N with DATABASE_URL");
    return list;
  }

  return {
    get fleet() {
      return fleet;
    },
    finished,
    summary: () => fleet?.summary(),

    async start() {
      fleet = new Fleet(await identities(), {
        target: config.SIMULATOR_TARGET,
        devicesPerConnection: config.SIMULATOR_DEVICES_PER_CONNECTION,
        intervalMs: config.SIMULATOR_INTERVAL_MS,
        samplesPerBatch: config.SIMULATOR_BATCH_SIZE,
        maxBufferedBatches: config.SIMULATOR_MAX_BUFFERED_BATCHES,
        clock: config.SIMULATOR_CLOCK,
        maxBatches: config.SIMULATOR_BATCHES,
      });
      fleet.start();
      log.info({ devices: fleet.devices.length, target: config.SIMULATOR_TARGET }, "simulator started");
      const running = fleet;
      progress = setInterval(() => log.info(running.summary(), "fleet progress"), 10_000);
      progress.unref();
      if (finish) setTimeout(finish, config.SIMULATOR_DURATION_S * 1000);
    },

    async stop() {
      clearInterval(progress);
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

async function provision(config: SimulatorConfig): Promise<DeviceIdentity[]> {
  if (!config.DATABASE_URL) throw new Error("--provision needs DATABASE_URL");
  const database = await openDatabase(config.DATABASE_URL);
  try {
    const out: DeviceIdentity[] = [];
    for (let n = 1; n <= config.SIMULATOR_PROVISION; n++) {
      const { apiKey } = await createDevice(
        { db: database.db, actor: "system:simulator" },
        { code: config.SIMULATOR_CODE, number: n },
      );
      out.push({ code: config.SIMULATOR_CODE, number: n, apiKey });
    }
    return out;
  } finally {
    await database.close();
  }
}

function ackedByDevice(fleet: Fleet): Record<string, Array<[number, number]>> {
  return Object.fromEntries(fleet.devices.map((d) => [`${d.identity.code}-${d.identity.number}`, [...d.acked]]));
}

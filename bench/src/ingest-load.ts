import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDatabase } from "@vigil/db";
import { replaceDeviceKey } from "@vigil/devices";
import type { FleetSummary } from "@vigil/simulator";
import { freePort, type ServiceProcess, startServiceProcess } from "@vigil/testkit";

export interface IngestLoadOptions {
  databaseUrl: string;
  natsUrl: string;
  /** Scratch directory for the devices file. */
  work: string;
  /** The devices that send: CODE-1..devices, already registered (they get new keys). */
  code: string;
  devices: number;
  /** Readings per second the fleet offers, each device on a timer. */
  readingsPerS: number;
  /** Samples per sensor per batch (robots have five sensors). */
  batchSize: number;
}

export interface IngestLoad {
  /** Receiver, writer, lifecycle and simulator processes, for the CPU meter. */
  pids: Record<string, number>;
  /** Stops the devices (then the services) and returns what they saw. */
  stop(): Promise<{ summary: FleetSummary; seconds: number }>;
}

/**
 * Production's ingest beside the queries of a benchmark: the receiver, a
 * writer and the lifecycle service as processes, and registered devices sending
 * their batches at a fixed pace through them into the measured database
 * (realtime clock: the readings are "now").
 */
export async function startIngestLoad(o: IngestLoadOptions): Promise<IngestLoad> {
  const database = await openDatabase(o.databaseUrl);
  const devices = [];
  try {
    for (let number = 1; number <= o.devices; number++) {
      const { apiKey } = await replaceDeviceKey({ db: database.db, actor: "system:bench" }, { code: o.code, number });
      devices.push({ code: o.code, number, apiKey });
    }
  } finally {
    await database.close();
  }
  const devicesFile = join(o.work, "ingest-devices.json");
  writeFileSync(devicesFile, JSON.stringify(devices), { mode: 0o600 });
  const env = {
    DATABASE_URL: o.databaseUrl,
    NATS_URL: o.natsUrl,
    LOG_LEVEL: "info",
    RECEIVER_RATE_LIMIT_PER_S: "100000000",
    RECEIVER_RATE_LIMIT_BURST: "1000000000",
    RECEIVER_OPS_PORT: "0",
    WRITER_OPS_HOST: "127.0.0.1",
    WRITER_OPS_PORT: "0",
    LIFECYCLE_OPS_HOST: "127.0.0.1",
    LIFECYCLE_OPS_PORT: "0",
  };
  const running: ServiceProcess[] = [];
  const receiverPort = await freePort();
  running.push(
    await startServiceProcess(
      "services/receiver/src/main.ts",
      { ...env, RECEIVER_HOST: "127.0.0.1", RECEIVER_PORT: String(receiverPort) },
      /receiver listening/,
    ),
    await startServiceProcess("services/writer/src/main.ts", env, /writer consuming/),
    await startServiceProcess("services/lifecycle/src/main.ts", env, /lifecycle started/),
  );
  const readingsPerBatch = 5 * o.batchSize;
  const intervalMs = Math.max(1, Math.round((o.devices * readingsPerBatch * 1000) / o.readingsPerS));
  const simulator = await startServiceProcess(
    "simulator/src/main.ts",
    { ...env, SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`, SIMULATOR_CONTROL_PORT: "0" },
    /simulator started/,
    [
      ...["--clock", "realtime", "--interval-ms", String(intervalMs), "--batch-size", String(o.batchSize)],
      ...["--devices-file", devicesFile, "--devices-per-connection", "25"],
    ],
  );
  const started = performance.now();
  const [receiver, writer, lifecycle] = running;
  return {
    pids: {
      receiver: receiver!.child.pid!,
      writer: writer!.child.pid!,
      lifecycle: lifecycle!.child.pid!,
      simulator: simulator.child.pid!,
    },
    async stop() {
      await simulator.stop();
      const seconds = (performance.now() - started) / 1000;
      const line = simulator
        .output()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith('{"summary"'));
      for (const p of running.reverse()) await p.stop();
      if (!line) throw new Error(`simulator printed no summary:\n${simulator.output().slice(-3000)}`);
      return { summary: JSON.parse(line).summary as FleetSummary, seconds };
    },
  };
}

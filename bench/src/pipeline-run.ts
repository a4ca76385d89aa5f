import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectJetStreamBus } from "@vigil/bus";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import type { FleetSummary } from "@vigil/simulator";
import {
  checkLoss,
  countReadings,
  createTestDatabase,
  type LossReport,
  type ServiceProcess,
  startNats,
  startOtlpReceiver,
  startServiceProcess,
} from "@vigil/testkit";
import { meterCpu } from "./cpu-meter.ts";
import { childPidsOf } from "./process-stats.ts";

/** Share of batches traced in runs with tracing on: the production default. */
export const TRACE_SAMPLING = 0.1;

export interface PipelineOptions {
  /** PostgreSQL server URL; each run gets a fresh database on it. */
  postgresUrl: string;
  postgresPid: number;
  /** Scratch directory for the devices and acked files. */
  work: string;
  devices: number;
  /** Samples per sensor per batch. */
  batchSize: number;
  writers: number;
  durationS: number;
  natsSync?: "always";
  backlogBytes: number;
  /** Off, or on: TRACE_SAMPLING of batches, exported over OTLP to a sink in this process. */
  traces: "off" | "on";
  /**
   * "fast": every device sends as fast as acks allow (the throughput run).
   * A number: each device sends one batch per that many ms (a paced run).
   */
  pace: "fast" | number;
  /** Write CPU profiles of the receiver, writers and simulator here (node --cpu-prof). */
  profileDir?: string;
}

export interface PipelineRun {
  databaseUrl: string;
  readingsPerS: number;
  seconds: number;
  summary: FleetSummary;
  loss: LossReport;
  otlpExports: number;
  /** CPU seconds per process group (receiver, writer, nats, postgres, simulator) during the run. */
  cpu: Record<string, number>;
}

/**
 * One timed run of the whole pipeline, each service its own process, on a
 * fresh database and nats-server: the simulator runs for the duration, then
 * the run waits until every acked reading is stored.
 */
export async function runPipeline(o: PipelineOptions): Promise<PipelineRun> {
  const nats = await startNats({ syncInterval: o.natsSync });
  const otlp = o.traces === "on" ? await startOtlpReceiver() : undefined;
  const running: ServiceProcess[] = [];
  const tag = `${o.traces}-${o.pace}-${Date.now()}`;
  try {
    const databaseUrl = await createTestDatabase(o.postgresUrl, "bench");
    const devicesFile = join(o.work, `devices-${tag}.json`);
    const ackedFile = join(o.work, `acked-${tag}.json`);
    writeFileSync(devicesFile, JSON.stringify(await provision(databaseUrl, o.devices)), { mode: 0o600 });

    // A small backlog bound: ingest is held to the writers' pace, as in production under overload.
    // No per-device rate limit: the bench measures the pipeline, not the limiter.
    const env = {
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      LOG_LEVEL: "warn",
      NATS_STREAM_MAX_BYTES: String(o.backlogBytes),
      RECEIVER_RATE_LIMIT_PER_S: "100000000",
      RECEIVER_RATE_LIMIT_BURST: "1000000000",
      RECEIVER_OPS_PORT: "0",
      WRITER_OPS_PORT: "0",
      ...(otlp && {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: String(TRACE_SAMPLING),
      }),
    };
    // A directory per process: with tracing on, the module loader hooks run on a thread of
    // their own, which writes a profile too (the main thread's is the larger file).
    const profiling = (name: string): Record<string, string> =>
      o.profileDir
        ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${join(o.profileDir, `${name}-tracing-${o.traces}`)}` }
        : {};
    const receiverPort = String(20_000 + Math.floor(Math.random() * 20_000));
    const receiver = await startServiceProcess(
      "services/receiver/src/main.ts",
      { ...env, ...profiling("receiver"), LOG_LEVEL: "info", RECEIVER_PORT: receiverPort, RECEIVER_HOST: "127.0.0.1" },
      /receiver listening/,
    );
    running.push(receiver);
    for (let i = 1; i <= o.writers; i++) {
      const writer = await startServiceProcess(
        "services/writer/src/main.ts",
        { ...env, ...profiling(`writer-${i}`), LOG_LEVEL: "info" },
        /writer consuming/,
      );
      running.push(writer);
    }

    const cpuMeter = meterCpu({
      receiver: [receiver.child.pid!],
      writer: running.slice(1).map((w) => w.child.pid!),
      nats: childPidsOf(process.pid, "nats-server"),
      postgres: [o.postgresPid],
    });
    const started = performance.now();
    const simulator = await startServiceProcess(
      "simulator/src/main.ts",
      {
        ...env,
        ...profiling("simulator"),
        SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`,
        SIMULATOR_CONTROL_PORT: "0",
        LOG_LEVEL: "info",
      },
      /simulator started/,
      [
        ...(o.pace === "fast"
          ? ["--clock", "fast", "--interval-ms", String(o.batchSize)]
          : ["--clock", "realtime", "--interval-ms", String(o.pace)]),
        ...["--batch-size", String(o.batchSize), "--duration-s", String(o.durationS)],
        ...["--devices-file", devicesFile, "--acked-file", ackedFile, "--devices-per-connection", "25"],
      ],
    );
    cpuMeter.add("simulator", [simulator.child.pid!]);
    await simulator.exited;
    const summary = fleetSummary(simulator);

    await waitUntilWritten(nats.url, databaseUrl, summary.readingsAcked);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuMeter.stop();
    for (const p of running.splice(0)) await p.stop();

    const loss = await checkLoss(databaseUrl, ackedFile);
    return {
      databaseUrl,
      readingsPerS: loss.stored / seconds,
      seconds,
      summary,
      loss,
      otlpExports: otlp?.exports ?? 0,
      cpu,
    };
  } finally {
    for (const p of running) await p.stop().catch(() => {});
    await nats.destroy();
    await otlp?.close();
  }
}

/** Creates the fleet's devices in a fresh, migrated database; returns their identities. */
async function provision(databaseUrl: string, devices: number) {
  const database = await openDatabase(databaseUrl);
  try {
    await migrateToLatest(database.db);
    const identities = [];
    for (let n = 1; n <= devices; n++) {
      const { apiKey } = await createDevice({ db: database.db, actor: "system:bench" }, { code: "OR", number: n });
      identities.push({ code: "OR", number: n, apiKey });
    }
    return identities;
  } finally {
    await database.close();
  }
}

function fleetSummary(simulator: ServiceProcess): FleetSummary {
  const line = simulator
    .output()
    .split("\n")
    .reverse()
    .find((l) => l.startsWith('{"summary"'));
  if (!line) throw new Error(`simulator printed no summary:\n${simulator.output().slice(-3000)}`);
  return JSON.parse(line).summary;
}

/**
 * Waits until the writers have committed everything: the consumer has no
 * batch left to deliver or to ack (writers ack after COMMIT), and the table
 * holds every acked reading. Polls JetStream, not `count(*)`, which would
 * scan the growing table over and over and compete with the writers.
 */
async function waitUntilWritten(natsUrl: string, databaseUrl: string, acked: number): Promise<void> {
  const bus = await connectJetStreamBus({
    servers: natsUrl,
    name: "vigil-bench",
    consumer: { durable: "vigil-writer", ackWaitMs: 30_000, maxDeliver: 10, maxAckPending: 20_000 },
    publishTimeoutMs: 5_000,
  });
  try {
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const backlog = await bus.backlog();
      if (backlog.pending === 0 && backlog.ackPending === 0 && (await countReadings(databaseUrl)) >= acked) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the writers did not store every acked reading within 180 s");
  } finally {
    await bus.close();
  }
}

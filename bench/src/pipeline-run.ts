import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectJetStreamBus } from "@vigil/bus";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { DEVICE_KINDS, type FleetSummary } from "@vigil/simulator";
import {
  checkLoss,
  countReadings,
  createTestDatabase,
  freePort,
  type LossReport,
  type ServiceProcess,
  startNats,
  startOtlpReceiver,
  startServiceProcess,
} from "@vigil/testkit";
import { createUser } from "@vigil/users";
import { meterCpu } from "./cpu-meter.ts";
import { childPidsOf } from "./process-stats.ts";
import { type QueryLoadReport, startQueryLoad } from "./query-load.ts";

/** Share of batches traced in runs with tracing on: the production default. */
export const TRACE_SAMPLING = 0.1;

export interface PipelineOptions {
  /** PostgreSQL server URL; each run gets a fresh database on it (unless `databaseUrl`). */
  postgresUrl: string;
  /** A migrated database to share with other runs instead (each run then needs its own `deviceCode`). */
  databaseUrl?: string;
  /** Code of the run's devices CODE-1..devices (default OR: robots). */
  deviceCode?: string;
  /**
   * Kill the receiver and the writers with SIGKILL this many seconds into the
   * run, and start them again a second later (what a crash and a restart
   * look like to devices, which reconnect and resend what was not acked).
   */
  killAtS?: number;
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
  /** Serve TLS on the receiver's and the writer's ports with these files; the simulator trusts caFile. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /**
   * A mixed run: the query service and the lifecycle service run too (as in
   * production), and web clients send this many requests per second while
   * the devices stream (see query-load.ts).
   */
  queryRatePerS?: number;
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
  /** The web clients' latencies, in a mixed run. */
  queries?: QueryLoadReport;
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
  const tag = `${o.traces}-${o.pace}-${o.tls ? "tls" : "plain"}-${Date.now()}`;
  const code = o.deviceCode ?? "OR";
  try {
    const databaseUrl = o.databaseUrl ?? (await createTestDatabase(o.postgresUrl, "bench"));
    const devicesFile = join(o.work, `devices-${tag}.json`);
    const ackedFile = join(o.work, `acked-${tag}.json`);
    writeFileSync(devicesFile, JSON.stringify(await provision(databaseUrl, o.devices, code)), { mode: 0o600 });

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
      ...(o.tls && { TLS_CERT_FILE: o.tls.certFile, TLS_KEY_FILE: o.tls.keyFile }),
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
    // A free port, not a random one: on a shared machine a random port collided (EADDRINUSE).
    const receiverPort = String(await freePort());
    const startReceiver = () =>
      startServiceProcess(
        "services/receiver/src/main.ts",
        {
          ...env,
          ...profiling("receiver"),
          LOG_LEVEL: "info",
          RECEIVER_PORT: receiverPort,
          RECEIVER_HOST: "127.0.0.1",
        },
        /receiver listening/,
      );
    const startWriter = (i: number) =>
      startServiceProcess(
        "services/writer/src/main.ts",
        { ...env, ...profiling(`writer-${i}`), LOG_LEVEL: "info", WRITER_OPS_HOST: "127.0.0.1" },
        /writer consuming/,
      );
    const receiver = await startReceiver();
    running.push(receiver);
    for (let i = 1; i <= o.writers; i++) running.push(await startWriter(i));

    const writerPids = running.slice(1).map((w) => w.child.pid!);
    let queryBase: { url: string; username: string; password: string } | undefined;
    if (o.queryRatePerS) {
      // A web client's user (plain role), created as `npx vigil users create` would.
      const username = `bench-${randomBytes(4).toString("hex")}`;
      const password = randomBytes(18).toString("base64url");
      const database = await openDatabase(databaseUrl);
      await createUser(database.db, { username, password, role: "user" }, { actor: "system:bench" }).finally(() =>
        database.close(),
      );
      const queryPort = await freePort();
      running.push(
        await startServiceProcess(
          "services/query/src/main.ts",
          {
            ...env,
            LOG_LEVEL: "info",
            QUERY_HOST: "127.0.0.1",
            QUERY_PORT: String(queryPort),
            // Its ops port on a free port: the default (9104) may be taken by another stack on the machine.
            QUERY_OPS_PORT: "0",
            // The bench measures queries, not the per-user rate limit.
            QUERY_USER_REQUESTS_PER_MIN: "10000000",
          },
          /query service listening/,
        ),
        await startServiceProcess(
          "services/lifecycle/src/main.ts",
          { ...env, LOG_LEVEL: "info", LIFECYCLE_OPS_HOST: "127.0.0.1", LIFECYCLE_OPS_PORT: "0" },
          /lifecycle started/,
        ),
      );
      queryBase = { url: `http://127.0.0.1:${queryPort}`, username, password };
    }
    const cpuMeter = meterCpu({
      receiver: [receiver.child.pid!],
      writer: writerPids,
      nats: childPidsOf(process.pid, "nats-server"),
      postgres: [o.postgresPid],
      ...(queryBase && {
        query: [running.at(-2)!.child.pid!],
        lifecycle: [running.at(-1)!.child.pid!],
      }),
    });
    const started = performance.now();
    const simulator = await startServiceProcess(
      "simulator/src/main.ts",
      {
        ...env,
        ...profiling("simulator"),
        SIMULATOR_TARGET: `127.0.0.1:${receiverPort}`,
        SIMULATOR_CONTROL_PORT: "0",
        ...(o.tls && { SIMULATOR_TLS_CA_FILE: o.tls.caFile, SIMULATOR_TLS_SERVER_NAME: "localhost" }),
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
    const queryLoad =
      queryBase &&
      (await startQueryLoad({
        baseUrl: queryBase.url,
        username: queryBase.username,
        password: queryBase.password,
        ratePerS: o.queryRatePerS!,
        devices: o.devices,
        sensors: DEVICE_KINDS.surgical_robot.map((s) => s.name),
      }));
    let restarted: Promise<void> | undefined;
    const killTimer =
      o.killAtS === undefined
        ? undefined
        : setTimeout(() => {
            restarted = (async () => {
              // The ingest processes crash together; a supervisor starts them again a second later.
              const ingest = running.splice(0, 1 + o.writers);
              await Promise.all(ingest.map((p) => p.kill()));
              await new Promise((r) => setTimeout(r, 1_000));
              const again = [await startReceiver()];
              for (let i = 1; i <= o.writers; i++) again.push(await startWriter(i));
              running.unshift(...again);
              cpuMeter.add("receiver", [again[0]!.child.pid!]);
              cpuMeter.add(
                "writer",
                again.slice(1).map((w) => w.child.pid!),
              );
            })();
          }, o.killAtS * 1000);
    await simulator.exited;
    clearTimeout(killTimer);
    await restarted;
    const queries = await queryLoad?.stop();
    const summary = fleetSummary(simulator);

    await waitUntilWritten(nats.url, databaseUrl, summary.readingsAcked, o.databaseUrl ? code : undefined);
    const seconds = (performance.now() - started) / 1000;
    const cpu = cpuMeter.stop();
    for (const p of running.splice(0)) await p.stop();

    const loss = await checkLoss(databaseUrl, ackedFile, o.databaseUrl ? code : undefined);
    return {
      databaseUrl,
      readingsPerS: loss.stored / seconds,
      seconds,
      summary,
      loss,
      otlpExports: otlp?.exports ?? 0,
      cpu,
      queries,
    };
  } finally {
    for (const p of running) await p.stop().catch(() => {});
    await nats.destroy();
    await otlp?.close();
  }
}

/** Creates the fleet's devices CODE-1..n in a (fresh or shared) database, migrated here; returns their identities. */
async function provision(databaseUrl: string, devices: number, code: string) {
  const database = await openDatabase(databaseUrl);
  try {
    await migrateToLatest(database.db);
    const identities = [];
    for (let n = 1; n <= devices; n++) {
      const { apiKey } = await createDevice({ db: database.db, actor: "system:bench" }, { code, number: n });
      identities.push({ code, number: n, apiKey });
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
async function waitUntilWritten(natsUrl: string, databaseUrl: string, acked: number, code?: string): Promise<void> {
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
      if (backlog.pending === 0 && backlog.ackPending === 0 && (await countReadings(databaseUrl, code)) >= acked)
        return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the writers did not store every acked reading within 180 s");
  } finally {
    await bus.close();
  }
}

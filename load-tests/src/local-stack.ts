import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { type DeviceIdentity, Fleet, provisionDevices } from "@vigil/simulator";
import {
  createTestDatabase,
  freePort,
  type NatsServer,
  type PostgresServer,
  type ServiceProcess,
  startNats,
  startPostgres,
  startServiceProcess,
  waitFor,
} from "@vigil/testkit";
import { ensureDevTls } from "@vigil/tls";

/** A private Vigil deployment on this machine: real PostgreSQL and NATS JetStream, one process per service. */
export interface LocalStack {
  /** host:port of the receiver's gRPC port. */
  receiverAddr: string;
  /** http://127.0.0.1:<port> of the query service (https:// with `tls`). */
  queryUrl: string;
  /** With `tls`: the development CA the receiver's and query service's certificates chain to. */
  caFile?: string;
  databaseUrl: string;
  natsUrl: string;
  adminUsername: string;
  adminPassword: string;
  /** Registered devices CODE-1..n, and a file with their keys (for k6's DEVICES_FILE). */
  devices: DeviceIdentity[];
  devicesFile: string;
  /** A temp directory removed by stop(). */
  dir: string;
  /** Everything the services printed, for diagnostics. */
  output(): string;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  /** Devices to register (CODE-1..devices). */
  devices: number;
  code?: string;
  log?: (line: string) => void;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Serve TLS on the receiver and the query port, with a development CA made in the stack's dir. */
  tls?: boolean;
}

/**
 * Starts PostgreSQL and nats-server in temp dirs on free ports, migrates,
 * registers devices, and starts the receiver, the writer and the query
 * service as separate Node processes, as in production (with a bootstrap
 * admin for the query API).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const code = options.code ?? "LOAD";
  const dir = mkdtempSync(join(tmpdir(), "vigil-load-"));
  const processes: Array<[string, ServiceProcess]> = [];
  let pg: PostgresServer | undefined;
  let nats: NatsServer | undefined;
  const stop = async () => {
    for (const [, p] of processes.reverse()) await p.stop().catch(() => {});
    await Promise.all([pg?.stop(), nats?.destroy()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    log("starting PostgreSQL and nats-server");
    [pg, nats] = await Promise.all([startPostgres({ fast: true }), startNats()]);
    const databaseUrl = await createTestDatabase(pg.url, "load");
    const database = await openDatabase(databaseUrl);
    let devices: DeviceIdentity[];
    try {
      await migrateToLatest(database.db);
      devices = await provisionDevices(
        database.db,
        code,
        Array.from({ length: options.devices }, (_, i) => i + 1),
        "system:load-tests",
      );
    } finally {
      await database.close();
    }
    const devicesFile = join(dir, "devices.json");
    writeFileSync(devicesFile, JSON.stringify(devices), { mode: 0o600 });

    const tls = options.tls ? await ensureDevTls(join(dir, "tls"), ["localhost", "127.0.0.1"]) : undefined;
    const adminPassword = randomBytes(18).toString("base64url");
    const [receiverPort, queryPort] = [await freePort(), await freePort()];
    const env = {
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      LOG_LEVEL: "info",
      // Free ports for the ops servers too: another stack or a quick start may hold 9101/9102.
      RECEIVER_OPS_PORT: "0",
      WRITER_OPS_PORT: "0",
      ...(tls && { TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile }),
      ...options.env,
    };
    log("starting receiver, writer and query service");
    const start = async (name: string, entry: string, extra: Record<string, string>, ready: RegExp) => {
      processes.push([name, await startServiceProcess(entry, { ...env, ...extra }, ready)]);
    };
    await start(
      "receiver",
      "services/receiver/src/main.ts",
      // Ops ports too on free ports: 9101/9102 may be another stack's on a shared machine.
      { RECEIVER_HOST: "127.0.0.1", RECEIVER_PORT: String(receiverPort), RECEIVER_OPS_PORT: "0" },
      /receiver listening/,
    );
    await start(
      "writer",
      "services/writer/src/main.ts",
      { WRITER_OPS_HOST: "127.0.0.1", WRITER_OPS_PORT: "0" },
      /writer consuming/,
    );
    await start(
      "query",
      "services/query/src/main.ts",
      {
        QUERY_HOST: "127.0.0.1",
        QUERY_PORT: String(queryPort),
        QUERY_OPS_PORT: "0",
        AUTH_BOOTSTRAP_ADMIN_USERNAME: "admin",
        AUTH_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
      },
      /query service listening/,
    );
    return {
      receiverAddr: `127.0.0.1:${receiverPort}`,
      queryUrl: `${tls ? "https" : "http"}://127.0.0.1:${queryPort}`,
      caFile: tls?.caFile,
      databaseUrl,
      natsUrl: nats.url,
      adminUsername: "admin",
      adminPassword,
      devices,
      devicesFile,
      dir,
      output: () => processes.map(([name, p]) => `--- ${name}\n${p.output().slice(-5000)}`).join("\n"),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Streams `batches` batches from every device of the stack (the Node
 * simulator, as fast as acks allow) and waits for their acks, so queries
 * find data, deep pages included, from the first second of a load test.
 */
export async function seedReadings(stack: LocalStack, batches: number): Promise<number> {
  const fleet = new Fleet(stack.devices, {
    target: stack.receiverAddr,
    tls: stack.caFile ? { caFile: stack.caFile } : undefined,
    devicesPerConnection: 25,
    intervalMs: 1000,
    samplesPerBatch: 20,
    maxBufferedBatches: batches,
    clock: "fast",
    maxBatches: batches,
  });
  void fleet.start();
  try {
    const expected = stack.devices.length * batches;
    await waitFor(`${expected} seed batches acked`, () => fleet.stats.batchesAcked >= expected, 60_000, 100);
  } finally {
    await fleet.stop();
  }
  return fleet.stats.readingsAcked;
}

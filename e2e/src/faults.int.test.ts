import { connectDeviceEvents } from "@vigil/bus";
import { migrateToLatest, openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { createDevice, revokeDeviceKey } from "@vigil/devices";
import { Fleet } from "@vigil/simulator";
import {
  createTestDatabase,
  freePort,
  type NatsServer,
  type ServiceProcess,
  startNats,
  startServiceProcess,
  waitFor,
} from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ackedBatches, storedBatches } from "./stored-batches.ts";

const DEVICES = 24;

/**
 * The delivery contract under faults: two receiver and two writer processes,
 * a fleet streaming to both receivers throughout, and after each fault every
 * reading the fleet saw acked is in the table exactly once.
 */
describe("faults", () => {
  let nats: NatsServer;
  let database: VigilDatabase;
  let env: Record<string, string>;
  const ports: number[] = [];
  const receivers: ServiceProcess[] = [];
  const writers: ServiceProcess[] = [];
  let fleet: Fleet;

  const startReceiver = (i: number) =>
    startServiceProcess(
      "services/receiver/src/main.ts",
      { ...env, RECEIVER_PORT: String(ports[i]) },
      /receiver listening/,
    );
  const startWriter = () => startServiceProcess("services/writer/src/main.ts", env, /writer consuming/);

  beforeAll(async () => {
    nats = await startNats();
    const databaseUrl = await createTestDatabase(inject("postgresUrl"));
    database = await openDatabase(databaseUrl);
    await migrateToLatest(database.db);
    ports.push(await freePort(), await freePort());
    env = {
      DATABASE_URL: databaseUrl,
      NATS_URL: nats.url,
      LOG_LEVEL: "info",
      RECEIVER_HOST: "127.0.0.1",
      RECEIVER_OPS_PORT: "0",
      WRITER_OPS_PORT: "0",
      WRITER_OPS_HOST: "127.0.0.1",
      // A killed writer's batches come back quickly.
      NATS_ACK_WAIT_MS: "2000",
      RECEIVER_DRAIN_TIMEOUT_MS: "5000",
      RECEIVER_RECONNECT_AFTER_MS: "100",
    };
    receivers.push(await startReceiver(0), await startReceiver(1));
    writers.push(await startWriter(), await startWriter());
    const identities = [];
    for (let n = 1; n <= DEVICES; n++) {
      const { apiKey } = await createDevice({ db: database.db, actor: "system:test" }, { code: "OR", number: n });
      identities.push({ code: "OR", number: n, apiKey });
    }
    fleet = new Fleet(identities, {
      target: ports.map((p) => `127.0.0.1:${p}`).join(","),
      devicesPerConnection: 4,
      intervalMs: 100,
      samplesPerBatch: 10,
      maxBufferedBatches: 10_000,
      clock: "realtime",
    });
    fleet.start();
    await waitFor("fleet connected", () => fleet.summary().connected === DEVICES, 20_000);
  });

  afterAll(async () => {
    await fleet?.stop();
    for (const p of [...receivers, ...writers]) await p.stop().catch(() => {});
    await database?.close();
    await nats?.destroy();
  });

  /** Waits for the fleet to make progress, then checks every acked batch is stored exactly once. */
  async function expectEveryAckedReadingStoredOnce(skip = new Set<string>()) {
    const before = fleet.stats.batchesAcked;
    await waitFor("acks to continue", () => fleet.stats.batchesAcked > before + DEVICES * 5, 60_000);
    const acked = ackedBatches(fleet.devices.filter((d) => !skip.has(`${d.identity.code}-${d.identity.number}`)));
    let missing: string[] = [];
    await waitFor(
      "acked batches to be stored",
      async () => {
        const stored = await storedBatches(database.db);
        missing = [...acked].filter(([key, n]) => stored.get(key) !== n).map(([key]) => key);
        for (const [key, n] of stored)
          if (acked.has(key) && n > acked.get(key)!) throw new Error(`${key} stored ${n} times`);
        return missing.length === 0;
      },
      60_000,
      250,
    ).catch((err) => {
      throw new Error(
        `${missing.length} acked batches not stored exactly once, e.g. ${missing.slice(0, 5)}: ${err.message}`,
      );
    });
    expect(fleet.stats.batchesRejected).toBe(0);
  }

  it("kill -9 of a receiver: its devices reconnect to the other and resume", async () => {
    await receivers[0]!.kill();
    await waitFor("devices back online", () => fleet.summary().connected === DEVICES, 30_000);
    await expectEveryAckedReadingStoredOnce();
    receivers[0] = await startReceiver(0);
  });

  it("kill -9 of a writer mid-batch: the other writer and the restarted one carry on", async () => {
    await writers[0]!.kill();
    await expectEveryAckedReadingStoredOnce();
    writers[0] = await startWriter();
    await expectEveryAckedReadingStoredOnce();
  });

  it("nats-server stopped for 10 s and started again: nothing acked is lost", async () => {
    await nats.stop();
    const ackedWhileDown = fleet.stats.batchesAcked;
    await new Promise((r) => setTimeout(r, 10_000));
    // Nothing can be acked without JetStream (a few PubAcks may have been in flight).
    expect(fleet.stats.batchesAcked - ackedWhileDown).toBeLessThan(DEVICES * 2);
    await nats.start();
    await expectEveryAckedReadingStoredOnce();
  });

  it("SIGTERM of a receiver: its devices drain and move without errors", async () => {
    const drains = fleet.stats.drains;
    await receivers[1]!.stop();
    expect(fleet.stats.drains).toBeGreaterThan(drains);
    await waitFor("devices back online", () => fleet.summary().connected === DEVICES, 30_000);
    await expectEveryAckedReadingStoredOnce();
    receivers[1] = await startReceiver(1);
  });

  it("a key revoked while its device streams: the stream ends within a second, nothing after is stored", async () => {
    const device = fleet.devices[5]!;
    const label = `${device.identity.code}-${device.identity.number}`;
    const events = await connectDeviceEvents(nats.url, "test");
    await revokeDeviceKey(
      { db: database.db, actor: "system:test", publish: events.publish },
      device.identity,
      device.identity.apiKey.slice(4, 16),
    );
    // Measured from the moment the revocation is committed and announced.
    const revokedAt = Date.now();
    await events.close();
    await waitFor("stream closed", () => device.authFailedAt !== undefined, 2_000);
    expect(device.authFailedAt! - revokedAt).toBeLessThan(1_000);
    await expectEveryAckedReadingStoredOnce(new Set([label]));
    const { rows } = await sql<{ last: Date | null }>`
      SELECT max(r.received_at) AS last FROM readings r JOIN devices d ON d.id = r.device_id
      WHERE d.code = ${device.identity.code} AND d.number = ${device.identity.number}`.execute(database.db);
    expect(rows[0]!.last!.getTime()).toBeLessThanOrEqual(device.authFailedAt!);
  });

  it("after the fleet stops, the table holds exactly what the fleet saw acked", async () => {
    await fleet.stop();
    const revoked = fleet.devices
      .filter((d) => d.authFailedAt !== undefined)
      .map((d) => `${d.identity.code}-${d.identity.number}:`);
    const acked = ackedBatches(fleet.devices);
    await waitFor(
      "writers to catch up",
      async () => {
        const stored = await storedBatches(database.db);
        return [...acked].every(([key, n]) => stored.get(key) === n);
      },
      60_000,
      250,
    );
    const stored = await storedBatches(database.db);
    const unacked = [...stored.keys()].filter((key) => !acked.has(key));
    // Only the revoked device may have batches stored that it never saw acked (in flight at revocation).
    expect(unacked.filter((key) => !revoked.some((prefix) => key.startsWith(prefix)))).toEqual([]);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM readings`.execute(database.db);
    const revokedRows = [...stored].filter(([key]) => revoked.some((p) => key.startsWith(p)));
    const ackedOthers = [...acked].filter(([key]) => !revoked.some((p) => key.startsWith(p)));
    expect(rows[0]!.n - revokedRows.reduce((s, [, n]) => s + n, 0)).toBe(ackedOthers.reduce((s, [, n]) => s + n, 0));
  });
});

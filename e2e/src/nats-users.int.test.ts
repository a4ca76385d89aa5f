import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, usernamePasswordAuthenticator } from "@nats-io/transport-node";
import type { AlerterApp } from "@vigil/alerter";
import {
  connectJetStreamBus,
  FEED_STREAM_NAME,
  NATS_COMPONENTS,
  type NatsComponent,
  natsAuthorizationConfig,
  natsInboxPrefix,
  natsUser,
  type ReadingBus,
  STREAM_NAME,
} from "@vigil/bus";
import { sql } from "@vigil/db";
import { createTestDatabase, type NatsServer, startNats } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startAlerter } from "./alert-kit.ts";
import { runFleetToCompletion } from "./fleet-run.ts";
import { type Pipeline, roleUrl, startPipeline } from "./pipeline.ts";
import { openRawStream } from "./raw-stream.ts";
import { runCli } from "./run-cli.ts";
import { ackedBatches, storedBatches } from "./stored-batches.ts";

const CONSUMER = "vigil-writer";

/**
 * The pipeline on a nats-server whose only users are the ones
 * permissions.ts defines, with exactly its subject permissions (the
 * configuration the chart renders): each service signs in as its own user
 * (NATS_USER, NATS_PASSWORD_FILE) and does its job, the streams are set up
 * by the admin user (`vigil nats setup`), and each user is refused what it
 * must not do, with the server's permission error.
 */
describe("NATS users per component", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-nats-users-"));
  const passwords = Object.fromEntries(
    NATS_COMPONENTS.map((c) => [c, `p${randomBytes(18).toString("base64url")}`]),
  ) as Record<NatsComponent, string>;
  let nats: NatsServer;
  let pipeline: Pipeline;
  let alerter: AlerterApp | undefined;
  const open: Array<{ close(): Promise<void> }> = [];

  /** A component's environment: its user, its password in a file, and no stream management. */
  const natsEnv = (c: NatsComponent) => {
    const file = join(dir, `${c}.password`);
    writeFileSync(file, `${passwords[c]}\n`, { mode: 0o600 });
    return { NATS_USER: natsUser(c), NATS_PASSWORD_FILE: file, NATS_MANAGE_STREAMS: "false", NATS_SETUP_WAIT_MS: "0" };
  };
  /** A raw connection as a component, with its private inbox. */
  const connectAs = async (c: NatsComponent) => {
    const nc = await connect({
      servers: nats.url,
      authenticator: usernamePasswordAuthenticator(natsUser(c), passwords[c]),
      inboxPrefix: natsInboxPrefix(c),
      maxReconnectAttempts: 0,
    });
    open.push(nc);
    return nc;
  };
  const busAs = async (c: NatsComponent): Promise<ReadingBus> => {
    const bus = await connectJetStreamBus({
      servers: nats.url,
      name: `test-${c}`,
      auth: { user: natsUser(c), password: () => passwords[c] },
      component: c,
      manageStreams: false,
      setupWaitMs: 0,
      consumer: { durable: CONSUMER, ackWaitMs: 30_000, maxDeliver: 10, maxAckPending: 1_000 },
      publishTimeoutMs: 3_000,
    });
    open.push(bus);
    return bus;
  };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => "allowed",
      (err: Error) => err.message,
    );

  beforeAll(async () => {
    // The server runs what `vigil nats config` prints for an external NATS (docs/deploy.md), each
    // password from the server's environment.
    const printed = await runCli(["nats", "config", "--consumer", CONSUMER], { PATH: process.env.PATH });
    expect(printed.code, printed.stderr).toBe(0);
    for (const c of NATS_COMPONENTS) process.env[`VIGIL_${c.toUpperCase()}_PASSWORD`] = passwords[c];
    try {
      nats = await startNats({ extraConfig: printed.stdout });
    } finally {
      for (const c of NATS_COMPONENTS) delete process.env[`VIGIL_${c.toUpperCase()}_PASSWORD`];
    }
    // What the chart's setup Job runs: `vigil nats setup` as the admin user.
    const setupEnv = { PATH: process.env.PATH, NATS_URL: nats.url, ALERTER_PARTITIONS: "4", NATS_STREAM_REPLICAS: "1" };
    const refused = await runCli(["nats", "setup"], { ...setupEnv, ...natsEnv("receiver") });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /Permissions Violation .*needs the admin user \(vigil-admin\), not user vigil-receiver/,
    );
    expect(refused.stderr).not.toContain(passwords.receiver);
    const setup = await runCli(["nats", "setup"], { ...setupEnv, ...natsEnv("admin") });
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.out).toEqual({ stream: STREAM_NAME, consumer: CONSUMER, feed: FEED_STREAM_NAME });
    pipeline = await startPipeline({
      databaseUrl: await createTestDatabase(inject("postgresUrl"), "natsusers"),
      natsUrl: nats.url,
      componentRoles: true,
      componentEnv: { receiver: natsEnv("receiver"), writer: natsEnv("writer"), query: natsEnv("query") },
    });
  });
  afterAll(async () => {
    await alerter?.stop();
    for (const c of open) await c.close().catch(() => {});
    await pipeline?.stop();
    await nats?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores every acked reading exactly once with each service on its own NATS user", async () => {
    const identities = await pipeline.provision("NU", 4);
    const fleet = await runFleetToCompletion(identities, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      maxBatches: 15,
    });
    expect(fleet.summary()).toMatchObject({ acked: 60, rejected: 0, unacked: 0 });
    const acked = ackedBatches(fleet.devices);
    await expect.poll(() => storedBatches(pipeline.database.db), { timeout: 30_000 }).toEqual(acked);
  });

  it("the query user's live tail sees new batches; a revocation reaches the receivers", async () => {
    const query = await busAs("query");
    const receiver = await busAs("receiver");
    const watch = query.watch({ code: "TAIL" });
    const first = (async () => {
      for await (const batch of watch) return batch;
    })();
    // The ordered consumer is created once iteration starts: publish until the tail has one.
    let seq = 0;
    const got = await Promise.race([
      first,
      (async () => {
        for (;;) {
          await receiver.append({ device: { id: 1, code: "TAIL", number: 1 }, seq: ++seq, payload: new Uint8Array(4) });
          await new Promise((r) => setTimeout(r, 200));
        }
      })(),
    ]);
    watch.stop();
    expect(got?.device).toMatchObject({ code: "TAIL", number: 1 });
    // The receiver's resume lookup (a device's last batch in the log) is allowed.
    expect(await failure(receiver.last({ id: 1, code: "TAIL", number: 1 }))).toBe("allowed");

    const [device] = await pipeline.provision("NUREV", 1);
    const stream = openRawStream(pipeline.receiver.port, device!.apiKey);
    stream.hello();
    expect((await stream.next()).kind.case).toBe("welcome");
    const res = await fetch(`${pipeline.queryUrl}/vigil.devices.v1.DeviceService/RevokeDeviceKey`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await pipeline.adminToken()}` },
      body: JSON.stringify({ code: "NUREV", number: 1, prefix: device!.apiKey.split("_")[1] }),
    });
    expect(res.status).toBe(200);
    expect((await stream.status).code).toBe(status.UNAUTHENTICATED);
  });

  it("the alerter reads its feed on its own NATS user and database role", async () => {
    alerter = await startAlerter(pipeline, {
      ...natsEnv("alerter"),
      DATABASE_URL: roleUrl(pipeline.databaseUrl, "alerter"),
    });
    await expect.poll(() => alerter!.ready(), { timeout: 20_000 }).toBe(true);
    // Its partition workers read the feed and save their positions (as vigil_alerter).
    await expect
      .poll(
        async () =>
          Number(
            (
              await sql<{ seq: string | null }>`SELECT max(checkpoint_seq) AS seq FROM alerter_partitions`.execute(
                pipeline.database.db,
              )
            ).rows[0]?.seq ?? 0,
          ),
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    const feed = await (await busAs("alerter")).openFeed({
      partitions: 4,
      maxBytes: 1024 ** 3,
      maxAgeMs: 3_600_000,
      replicas: 1,
      storage: "file",
    });
    expect((await feed.window()).lastSeq).toBeGreaterThan(0);
  });

  it("refuses each user what it must not do, naming the subject", async () => {
    const receiver = await connectAs("receiver");
    const receiverJsm = await jetstreamManager(receiver);
    expect(await failure(receiverJsm.streams.delete(STREAM_NAME))).toBe(
      `Permissions Violation for Publish to "$JS.API.STREAM.DELETE.${STREAM_NAME}"`,
    );
    expect(await failure(receiverJsm.streams.purge(STREAM_NAME))).toMatch(/Permissions Violation for Publish/);
    expect(await failure(receiverJsm.consumers.delete(STREAM_NAME, CONSUMER))).toMatch(/Permissions Violation/);
    // Nor can it read the readings, or anyone's replies (the writers' pulled batches).
    expect(await subscribeError(receiver, "vigil.readings.>")).toBe(
      'Permissions Violation for Subscription to "vigil.readings.>"',
    );
    expect(await subscribeError(receiver, "_INBOX_writer.>")).toMatch(/Permissions Violation for Subscription/);
    expect(await subscribeError(receiver, "_INBOX.>")).toMatch(/Permissions Violation for Subscription/);

    const writer = await connectAs("writer");
    expect(await failure(jetstream(writer).publish("vigil.readings.NU.1", "forged", { timeout: 3_000 }))).toBe(
      'Permissions Violation for Publish to "vigil.readings.NU.1"',
    );
    expect(await failure((await jetstreamManager(writer)).streams.delete(STREAM_NAME))).toMatch(
      /Permissions Violation/,
    );

    const queryJsm = await jetstreamManager(await connectAs("query"));
    expect(await failure(queryJsm.streams.purge(STREAM_NAME))).toBe(
      `Permissions Violation for Publish to "$JS.API.STREAM.PURGE.${STREAM_NAME}"`,
    );
    // The writers' durable consumer is theirs: the query service can neither delete nor replace it.
    expect(await failure(queryJsm.consumers.delete(STREAM_NAME, CONSUMER))).toMatch(/Permissions Violation/);
    // Nor pull the writers' batches from their consumer.
    const query = await connectAs("query");
    expect(
      await failure(
        query.request(`$JS.API.CONSUMER.MSG.NEXT.${STREAM_NAME}.${CONSUMER}`, '{"batch":1}', { timeout: 3_000 }),
      ),
    ).toMatch(/Permissions Violation for Publish to "\$JS.API.CONSUMER.MSG.NEXT/);
    expect(await failure(queryJsm.streams.add({ name: "VIGIL_EVIL", subjects: ["evil.>"] }))).toMatch(
      /Permissions Violation/,
    );

    const alerterJsm = await jetstreamManager(await connectAs("alerter"));
    expect(await failure(alerterJsm.streams.delete(FEED_STREAM_NAME))).toMatch(/Permissions Violation/);

    // No user, or a wrong password: no connection at all.
    const refused = (options: object) =>
      connect({ servers: nats.url, maxReconnectAttempts: 0, reconnect: false, ...options }).then(
        (nc) => nc.close().then(() => "connected"),
        (err: Error) => err.message,
      );
    expect(await refused({})).toMatch(/Authorization Violation/i);
    expect(await refused({ authenticator: usernamePasswordAuthenticator(natsUser("writer"), "wrong") })).toMatch(
      /Authorization Violation/i,
    );
    // Stream and consumer are still there for the pipeline.
    expect((await queryJsm.streams.info(STREAM_NAME)).config.name).toBe(STREAM_NAME);
  });

  it("a service whose stream was not set up says what to run", async () => {
    const other = await startNats({
      extraConfig: natsAuthorizationConfig(CONSUMER, { receiver: { literal: passwords.receiver } }),
    });
    try {
      const err = await connectJetStreamBus({
        servers: other.url,
        name: "test",
        auth: { user: natsUser("receiver"), password: () => passwords.receiver },
        component: "receiver",
        manageStreams: false,
        setupWaitMs: 0,
        publishTimeoutMs: 1_000,
      }).then(
        (bus) => bus.close().then(() => "connected"),
        (e: Error) => e.message,
      );
      expect(err).toMatch(/stream VIGIL_READINGS does not exist.*vigil nats setup/);
    } finally {
      await other.destroy();
    }
  });
});

/** The server's refusal of a subscription, as the subscription's iterator ends with it. */
async function subscribeError(nc: Awaited<ReturnType<typeof connect>>, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  try {
    for await (const _ of sub) return "received";
    return "ended";
  } catch (err) {
    return (err as Error).message;
  }
}

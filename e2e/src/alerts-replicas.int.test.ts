import { Fleet } from "@vigil/simulator";
import { type ServiceProcess, startServiceProcess, waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertApi, startWebhookReceiver } from "./alert-kit.ts";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const DEVICES = 12;
const PARTITIONS = 8;
const LEASE_TTL_MS = 2_000;

/**
 * Two alerter processes share the devices (8 partitions by lease); one is
 * killed with SIGKILL while the fleet streams and spikes are injected every
 * 400 ms. Its partitions are taken over within seconds, and every spike
 * (ground truth from the simulator) is raised exactly once: none missed
 * across the takeover, none raised twice by the replay from the last
 * checkpoint, each notified.
 */
describe("alerter replicas: kill -9 of one under load", () => {
  let pipeline: Pipeline;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let fleet: Fleet;
  const alerters: ServiceProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    hook = await startWebhookReceiver();
    const api = alertApi(pipeline, pipeline.adminToken);
    const devices = await pipeline.provision("MON", DEVICES);
    const channel = await api<{ channel: { id: string }; signingSecret: string }>("CreateNotificationChannel", {
      channel: { name: "pager", webhook: { url: hook.url }, rateLimitPerMinute: 10_000 },
    });
    hook.state.secret = channel.body.signingSecret;
    await api("CreateAlertRule", {
      rule: {
        name: "heart rate anomaly",
        severity: "SEVERITY_CRITICAL",
        devices: { codes: ["MON"] },
        sensors: ["patient.heart_rate_bpm"],
        anomaly: { sensitivity: 6, warmupSamples: 50 },
        channelIds: [channel.body.channel.id],
        enabled: true,
      },
    });
    env = {
      DATABASE_URL: pipeline.databaseUrl,
      NATS_URL: pipeline.natsUrl,
      ALERTER_OPS_PORT: "0",
      ALERTER_OPS_HOST: "127.0.0.1",
      ALERTER_PARTITIONS: String(PARTITIONS),
      ALERTER_LEASE_TTL_MS: String(LEASE_TTL_MS),
      ALERTER_CHECKPOINT_INTERVAL_MS: "500",
      ALERTER_RULES_REFRESH_MS: "300",
      ALERTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
      LOG_LEVEL: "info",
    };
    for (let i = 0; i < 2; i++) {
      alerters.push(await startServiceProcess("services/alerter/src/main.ts", env, /alerter evaluating/));
    }
    fleet = new Fleet(devices, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      devicesPerConnection: 12,
      intervalMs: 100,
      samplesPerBatch: 10,
      maxBufferedBatches: 1_000,
      clock: "realtime",
    });
    void fleet.start();
    await waitFor("the fleet streaming", () => fleet.summary().connected === DEVICES, 20_000);
  });

  afterAll(async () => {
    await fleet?.stop();
    for (const a of alerters) await a.stop();
    await hook?.close();
    await pipeline?.stop();
  });

  const owners = async () =>
    pipeline.database.db.selectFrom("alerter_partitions").select(["partition", "owner", "expires_at"]).execute();

  it("takes over the killed replica's partitions within seconds; every injected spike is raised once", async () => {
    await waitFor(
      "both replicas holding partitions",
      async () => new Set((await owners()).map((p) => p.owner).filter(Boolean)).size === 2,
      20_000,
    );
    // Warm-up of the detectors (50 readings at 10 a second).
    await new Promise((r) => setTimeout(r, 6_000));
    const faults: ReturnType<Fleet["injectFault"]>[] = [];
    let killedAt = 0;
    let victim = "";
    let takeoverMs = 0;
    for (let i = 0; i < 40; i++) {
      faults.push(
        fleet.injectFault({
          code: "MON",
          number: (i % DEVICES) + 1,
          sensor: "patient.heart_rate_bpm",
          kind: "spike",
          magnitude: 12,
          durationMs: 0,
        }),
      );
      if (i === 15) {
        const before = await owners();
        victim = before.find((p) => p.owner)!.owner!;
        const process = alerters.find((a) => a.output().includes(victim));
        expect(process).toBeDefined();
        killedAt = Date.now();
        await process!.kill();
        void waitFor(
          "the survivor owning every partition",
          async () => (await owners()).every((p) => p.owner && p.owner !== victim),
          30_000,
          100,
        ).then(() => {
          takeoverMs = Date.now() - killedAt;
        });
      }
      await new Promise((r) => setTimeout(r, 400));
    }
    await waitFor("the takeover", () => takeoverMs > 0, 30_000);
    console.log(JSON.stringify({ victim, takeoverMs, leaseTtlMs: LEASE_TTL_MS }));
    expect(takeoverMs).toBeLessThan(LEASE_TTL_MS + 4_000);

    // Ground truth: every spike's reading, as the devices sent it.
    await waitFor("every spike sent", () => faults.every((f) => f.firstReadingMs !== undefined), 10_000);
    const expected = faults.map((f) => `MON-${f.device.number}@${f.firstReadingMs}`).sort();
    const raised = async () =>
      (
        await pipeline.database.db
          .selectFrom("alerts as a")
          .innerJoin("devices as d", "d.id", "a.device_id")
          .select(["d.number", "a.started_at"])
          .execute()
      )
        .map((r) => `MON-${r.number}@${r.started_at.getTime()}`)
        .sort();
    await waitFor("every spike raised", async () => (await raised()).length >= expected.length, 30_000, 250);
    // A moment for anything raised twice to show up.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await raised()).toEqual(expected);
    // Each alert notified (at least once; a resend carries the same webhook-id).
    await waitFor(
      "every alert notified",
      () =>
        new Set(hook.received.filter((w) => w.body.type === "alert.fired").map((w) => w.id)).size === expected.length,
      30_000,
    );
    const fired = hook.received.filter((w) => w.body.type === "alert.fired");
    expect(fired.every((w) => w.verified)).toBe(true);
    const perId = new Map<string, string>();
    for (const w of fired) {
      const key = `${w.body.data.alert!.id}`;
      expect(perId.get(w.id) ?? key).toBe(key);
      perId.set(w.id, key);
    }
  });
});

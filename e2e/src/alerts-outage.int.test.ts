import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { AlerterApp } from "@vigil/alerter";
import { FEED_STREAM_NAME, STREAM_NAME } from "@vigil/bus";
import { Fleet } from "@vigil/simulator";
import { metricsRegistry } from "@vigil/telemetry";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertApi, startAlerter } from "./alert-kit.ts";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const DEVICES = 8;
/** Unwritten backlog the readings log may hold: small, so any holdback shows within seconds. */
const LOG_MAX_BYTES = 16 * 1024 * 1024;
/** Batches NATS's sourcing consumer (the feed's copy) may hold before it acks them (seen: it acks every 1,000). */
const COPY_WINDOW = 1_000;

/** A window of the fleet and writer under load. */
interface Window {
  readingsPerS: number;
  throttles: number;
  appendFailures: number;
  /** Most batches the log held beyond those the writers have not acked yet (kept for someone else). */
  maxHeldForOthers: number;
  ackP99Ms: number;
}

/**
 * "An alerter outage never holds ingest back": the readings log keeps
 * interest retention and a small backlog bound; the alerters read their own
 * feed (a limits stream sourcing it). With the alerter stopped under load,
 * devices see no throttling or failed appends, the writer keeps its rate and
 * the log stays as small as the writer's own backlog. The same measurement
 * catches a holdback when there is one (a durable consumer that stops
 * acking). On return the alerter evaluates what it missed; beyond the feed's
 * window it raises a gap alert naming the devices and the time range.
 */
describe("alerter outage", () => {
  let pipeline: Pipeline;
  let alerter: AlerterApp | undefined;
  let fleet: Fleet;
  let api: ReturnType<typeof alertApi>;
  let ruleId = "";

  const counter = async (name: string) =>
    ((await metricsRegistry().getSingleMetric(name)?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);

  /** Batches in the log minus those the writers' consumer still has to ack: what someone else holds back. */
  async function heldForOthers(): Promise<number> {
    const nc = await connect({ servers: pipeline.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const writers = await jsm.consumers.info(STREAM_NAME, "vigil-writer");
      const log = await jsm.streams.info(STREAM_NAME);
      return log.state.messages - writers.num_pending - writers.num_ack_pending;
    } finally {
      await nc.close();
    }
  }

  /** Measures `ms` of load: readings stored per second, throttles, failed appends, the log's size. */
  async function measure(ms: number): Promise<Window> {
    const stored0 = pipeline.writer.stats.readings;
    const throttles0 = fleet.summary().throttled;
    const failures0 = await counter("vigil_receiver_append_failures_total");
    const started = Date.now();
    let maxHeldForOthers = 0;
    while (Date.now() - started < ms) {
      const held = await heldForOthers();
      maxHeldForOthers = Math.max(maxHeldForOthers, held);
      await new Promise((r) => setTimeout(r, 250));
    }
    const elapsed = (Date.now() - started) / 1000;
    return {
      readingsPerS: (pipeline.writer.stats.readings - stored0) / elapsed,
      throttles: fleet.summary().throttled - throttles0,
      appendFailures: (await counter("vigil_receiver_append_failures_total")) - failures0,
      maxHeldForOthers,
      ackP99Ms: fleet.summary().recentAckLatencyMs.p99,
    };
  }

  const alerts = async (id: string) =>
    (
      await api<{ alerts?: Array<{ startTime: string; summary: string; details?: Record<string, unknown> }> }>(
        "ListAlerts",
        { filter: { ruleId: id } },
      )
    ).body.alerts ?? [];

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { NATS_STREAM_MAX_BYTES: String(LOG_MAX_BYTES) } });
    api = alertApi(pipeline, pipeline.adminToken);
    const devices = await pipeline.provision("ROB", DEVICES);
    const rule = await api<{ rule: { id: string } }>("CreateAlertRule", {
      rule: {
        name: "motor temperature anomaly",
        severity: "SEVERITY_WARNING",
        devices: { codes: ["ROB"] },
        sensors: ["motor.temperature_c"],
        anomaly: { sensitivity: 6, warmupSamples: 50 },
        enabled: true,
      },
    });
    ruleId = rule.body.rule.id;
    alerter = await startAlerter(pipeline);
    // About 16,000 readings a second: 8 robots, 5 sensors, 40 samples every 100 ms.
    fleet = new Fleet(devices, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      devicesPerConnection: 8,
      intervalMs: 100,
      samplesPerBatch: 40,
      maxBufferedBatches: 2_000,
      clock: "realtime",
    });
    void fleet.start();
    await waitFor("the fleet streaming", () => fleet.summary().connected === DEVICES, 20_000);
    await new Promise((r) => setTimeout(r, 4_000));
  });

  afterAll(async () => {
    await fleet?.stop();
    await alerter?.stop();
    await pipeline?.stop();
  });

  it("with the alerter stopped under load, ingest is not held back, and on return it evaluates what it missed", async () => {
    const running = await measure(8_000);
    expect(running.readingsPerS).toBeGreaterThan(10_000);
    await alerter!.stop();
    alerter = undefined;
    const stopped = await measure(12_000);
    // A spike while nobody evaluates: the alerter must still raise it when it returns.
    const fault = fleet.injectFault({
      code: "ROB",
      number: 3,
      sensor: "motor.temperature_c",
      kind: "spike",
      magnitude: 15,
      durationMs: 0,
    });
    const later = await measure(4_000);
    console.log(JSON.stringify({ running, stopped, later }));
    for (const w of [stopped, later]) {
      expect(w.readingsPerS).toBeGreaterThan(running.readingsPerS * 0.9);
      expect(w.throttles).toBe(0);
      expect(w.appendFailures).toBe(0);
      // Beyond the writers' own backlog the log holds only the feed's copying window: NATS's
      // sourcing consumer acks every 1,000 batches, alerter or not.
      expect(w.maxHeldForOthers).toBeLessThan(COPY_WINDOW + 200);
    }
    expect(await alerts(ruleId)).toEqual([]);
    alerter = await startAlerter(pipeline);
    await waitFor("the missed spike evaluated", async () => (await alerts(ruleId)).length > 0, 30_000);
    const [alert] = await alerts(ruleId);
    expect(Date.parse(alert!.startTime)).toBe(fault.firstReadingMs);
  });

  it("the same measurement catches a holdback: a durable consumer that stops acking fills the log", async () => {
    const nc = await connect({ servers: pipeline.natsUrl });
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.add(STREAM_NAME, {
      durable_name: "naive-alerter",
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
    });
    try {
      const held = await measure(20_000);
      console.log(JSON.stringify({ held }));
      // Interest retention keeps every batch (80 a second) for the consumer that never acks, until the bound.
      expect(held.maxHeldForOthers).toBeGreaterThan(COPY_WINDOW + 400);
    } finally {
      await jsm.consumers.delete(STREAM_NAME, "naive-alerter");
      await nc.close();
    }
  });

  it("an outage longer than the feed keeps batches raises one gap alert with the devices and the time range", async () => {
    await alerter!.stop();
    // The feed now keeps 1 MiB (about 2 seconds of this load).
    const small = { ALERTER_FEED_MAX_BYTES: String(1024 * 1024) };
    alerter = await startAlerter(pipeline, small);
    await new Promise((r) => setTimeout(r, 2_000));
    await alerter.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 6_000));
    const nc = await connect({ servers: pipeline.natsUrl });
    const feedBytes = (await (await jetstreamManager(nc)).streams.info(FEED_STREAM_NAME)).state.bytes;
    await nc.close();
    expect(feedBytes).toBeLessThanOrEqual(1024 * 1024);
    alerter = await startAlerter(pipeline, small);
    const gapRuleId = async () =>
      (
        await pipeline.database.db
          .selectFrom("alert_rules")
          .select("id")
          .where("source", "=", "alerter")
          .executeTakeFirst()
      )?.id;
    await waitFor(
      "gap alerts",
      async () => {
        const id = await gapRuleId();
        return id !== undefined && (await alerts(String(id))).length > 0;
      },
      30_000,
    );
    // Partitions find their gap as their first batch after it arrives: give them a moment.
    await new Promise((r) => setTimeout(r, 2_000));
    const gaps = await alerts(String(await gapRuleId()));
    const devices = new Set(gaps.flatMap((g) => (g.details?.devices as string[]) ?? []));
    // Every robot belongs to some partition whose gap was reported.
    for (let n = 1; n <= DEVICES; n++) expect(devices.has(`ROB-${n}`)).toBe(true);
    for (const g of gaps) {
      const from = Date.parse(String(g.details?.from));
      const to = Date.parse(String(g.details?.to));
      expect(from).toBeLessThanOrEqual(stoppedAt + 500);
      expect(to).toBeGreaterThan(stoppedAt);
      expect(g.summary).toMatch(/were not evaluated/);
    }
  });
});

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { AlerterApp } from "@vigil/alerter";
import { ensureExternalRule, raiseExternalAlert, resolveExternalAlert } from "@vigil/alerts";
import { sql } from "@vigil/db";
import { AlertService, AlertState } from "@vigil/proto";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertApi, startAlerter, startWebhookReceiver } from "./alert-kit.ts";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

type Delivery = {
  id: string;
  state: string;
  attempts?: number;
  lastError?: string;
  lastStatus?: number;
  messageId: string;
};

/**
 * AlertService as clients use it: who may call what, validation, secrets
 * shown once, audit, silences, live watches; external alerts (the fleet
 * service's way in); and the delivery path: SSRF refusal checked after DNS,
 * retries with backoff to a deadline, manual retry with the same
 * webhook-id, and the per-channel rate limit.
 */
describe("AlertService", () => {
  let pipeline: Pipeline;
  let alerter: AlerterApp | undefined;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let api: ReturnType<typeof alertApi>;
  let userToken = "";

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    hook = await startWebhookReceiver();
    api = alertApi(pipeline, pipeline.adminToken);
    userToken = await pipeline.userToken("nurse");
    await pipeline.provision("OR", 2);
  });

  afterAll(async () => {
    await alerter?.stop();
    await hook?.close();
    await pipeline?.stop();
  });

  const channel = async (name: string, body: object) => {
    const res = await api<{ channel: { id: string }; signingSecret: string }>("CreateNotificationChannel", {
      channel: { name, ...body },
    });
    expect(res.status).toBe(200);
    return res.body;
  };

  it("refuses anonymous callers, lets users read, acknowledge and silence, and keeps rules and channels for admins", async () => {
    const anonymous = await fetch(`${pipeline.queryUrl}/vigil.alerts.v1.AlertService/ListAlerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
    expect((await api("ListAlerts", {}, userToken)).status).toBe(200);
    // One state named 70,000 times fits the body bound; it must not become 70,000 bind parameters.
    const repeated = await api("ListAlerts", { filter: { states: Array(70_000).fill(1) } }, userToken);
    expect(repeated.status).toBe(200);
    const rule = await api(
      "CreateAlertRule",
      { rule: { name: "x", severity: "SEVERITY_INFO", absence: { silentFor: "5s" } } },
      userToken,
    );
    expect(rule.status).toBe(403);
    expect(rule.body.code).toBe("permission_denied");
    const ch = await api(
      "CreateNotificationChannel",
      { channel: { name: "x", webhook: { url: "https://example.com/h" } } },
      userToken,
    );
    expect(ch.status).toBe(403);
    const silence = await api<{ silence: { id: string; active: boolean } }>(
      "CreateSilence",
      { matcher: { deviceCode: "OR" }, duration: "600s", comment: "maintenance window" },
      userToken,
    );
    expect(silence.status).toBe(200);
    expect(silence.body.silence.active).toBe(true);
    const ended = await api<{ silence: { active?: boolean } }>(
      "DeleteSilence",
      { id: silence.body.silence.id },
      userToken,
    );
    expect(ended.body.silence.active ?? false).toBe(false);
  });

  it("validates rules and names the field, refuses unknown fields, and audits every change", async () => {
    const none = await api("CreateAlertRule", { rule: { name: "no condition", severity: "SEVERITY_INFO" } });
    expect(none.status).toBe(400);
    expect(none.body.message).toMatch(/condition/);
    const bad = await api("CreateAlertRule", {
      rule: { name: "bad", severity: "SEVERITY_INFO", anomaly: { sensitivity: 1 } },
    });
    expect(bad.body.message).toMatch(/anomaly.sensitivity: must be from 2 to 50/);
    const typo = await api("CreateAlertRule", { rule: { name: "t", severity: "SEVERITY_INFO", treshold: {} } });
    expect(typo.status).toBe(400);
    const external = await api("CreateAlertRule", {
      rule: { name: "e", severity: "SEVERITY_INFO", external: { source: "maintenance" } },
    });
    expect(external.status).toBe(400);
    const created = await api<{ rule: { id: string; severity: string } }>("CreateAlertRule", {
      rule: {
        name: "robot hot",
        severity: "SEVERITY_WARNING",
        devices: { codes: ["OR"] },
        sensors: ["motor.temperature_c"],
        threshold: { comparison: "COMPARISON_ABOVE", value: 90, for: "10s", hysteresis: 2 },
        enabled: true,
      },
    });
    expect(created.status).toBe(200);
    const id = created.body.rule.id;
    const updated = await api<{ rule: { severity: string; name: string } }>("UpdateAlertRule", {
      rule: { id, severity: "SEVERITY_CRITICAL", name: "ignored: not in the mask" },
      updateMask: "severity",
    });
    expect(updated.body.rule.severity).toBe("SEVERITY_CRITICAL");
    expect(updated.body.rule.name).toBe("robot hot");
    const deleted = await api<{ resolvedAlerts?: string }>("DeleteAlertRule", { id });
    expect(deleted.status).toBe(200);
    expect((await api("DeleteAlertRule", { id })).status).toBe(404);
    const audit = await sql<{ action: string }>`
      SELECT action FROM audit_log WHERE target = ${`alert_rule:${id}`} ORDER BY id`.execute(pipeline.database.db);
    expect(audit.rows.map((r) => r.action)).toEqual(["alert_rule.create", "alert_rule.update", "alert_rule.delete"]);
  });

  it("shows a webhook channel's signing secret once: never listed, never audited", async () => {
    const { signingSecret, channel: c } = await channel("secret-check", {
      webhook: { url: "https://hooks.example/x" },
    });
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await api("ListNotificationChannels", {});
    expect(JSON.stringify(listed.body)).not.toContain(signingSecret.slice(6));
    const audit = await sql<{ details: unknown }>`
      SELECT details FROM audit_log WHERE target = ${`notification_channel:${c.id}`}`.execute(pipeline.database.db);
    expect(audit.rows).toHaveLength(1);
    expect(JSON.stringify(audit.rows[0]!.details)).not.toContain(signingSecret.slice(6));
    const badUrl = await api("CreateNotificationChannel", { channel: { name: "ftp", webhook: { url: "ftp://x/y" } } });
    expect(badUrl.status).toBe(400);
  });

  it("refuses loopback and private webhook targets unless allowed, checking the address DNS gives", async () => {
    alerter = await startAlerter(pipeline, { ALERTER_WEBHOOK_ALLOWED_CIDRS: "" });
    const literal = await channel("loopback-literal", { webhook: { url: hook.url } });
    const named = await channel("loopback-name", { webhook: { url: hook.url.replace("127.0.0.1", "localhost") } });
    const metadata = await channel("metadata", { webhook: { url: "http://169.254.169.254/latest/meta-data" } });
    for (const c of [literal, named, metadata]) {
      const res = await api<{ delivery: Delivery }>("TestNotificationChannel", { id: c.channel.id });
      expect(res.status).toBe(200);
      expect(res.body.delivery.state).toBe("DELIVERY_STATE_FAILED");
      expect(res.body.delivery.lastError).toMatch(/not allowed/);
    }
    expect(hook.received).toHaveLength(0);
    await alerter.stop();
    alerter = await startAlerter(pipeline, {
      ALERTER_WEBHOOK_ALLOWED_CIDRS: "127.0.0.1/32",
      ALERTER_DELIVERY_MAX_BACKOFF_MS: "500",
    });
    hook.state.secret = literal.signingSecret;
    const ok = await api<{ delivery: Delivery }>("TestNotificationChannel", { id: literal.channel.id });
    expect(ok.body.delivery.state).toBe("DELIVERY_STATE_SUCCEEDED");
    expect(hook.received.at(-1)?.verified).toBe(true);
    expect(hook.received.at(-1)?.body.type).toBe("alert.test");
  });

  it("retries a failing receiver with backoff until the deadline, keeps the failure, and retries it by hand with the same webhook-id", async () => {
    const c = await channel("flaky", { webhook: { url: hook.url } });
    hook.state.secret = c.signingSecret;
    hook.state.status = 503;
    const db = pipeline.database.db;
    const rule = await ensureExternalRule(
      { db, actor: "system:test" },
      { source: "flaky-test", name: "Flaky", description: "", severity: "info" },
    );
    await db
      .updateTable("alert_rules")
      .set({ channel_ids: [Number(c.channel.id)] })
      .where("id", "=", rule.id)
      .execute();
    const before = hook.received.length;
    try {
      const applied = await raiseExternalAlert(
        db,
        { source: "flaky-test", device: { code: "OR", number: 1 }, summary: "flaky", startedAtMs: Date.now() },
        { deliveryDeadlineMs: 5_000 },
      );
      const alertId = String(applied.fired[0]);
      const mine = async () =>
        (await api<{ deliveries?: Delivery[] }>("ListDeliveries", { alertId })).body.deliveries?.[0];
      await waitFor(
        "the delivery failed at its deadline",
        async () => (await mine())?.state === "DELIVERY_STATE_FAILED",
        30_000,
        200,
      );
      const failed = (await mine())!;
      expect(failed.attempts).toBeGreaterThanOrEqual(3);
      expect(failed.lastStatus).toBe(503);
      const attempts = hook.received.slice(before);
      expect(attempts.length).toBe(failed.attempts);
      expect(new Set(attempts.map((w) => w.id))).toEqual(new Set([failed.messageId]));
      // Backoff: this alerter caps waits at 500 ms, so each is between 250 ms and 500 ms plus the
      // poll; a loaded machine makes waits longer, never shorter. (Growth and jitter are
      // pure logic, tested in services/alerter/src/retry-backoff.test.ts.)
      const gaps = attempts.slice(1).map((w, i) => w.arrivedAtMs - attempts[i]!.arrivedAtMs);
      for (const [n, gap] of gaps.entries()) expect(gap, `wait ${n}`).toBeGreaterThanOrEqual(240);
      hook.state.status = 200;
      const retried = await api<{ delivery: Delivery }>("RetryDelivery", { id: failed.id });
      expect(retried.body.delivery.state).toBe("DELIVERY_STATE_PENDING");
      await waitFor("the retried delivery", async () => (await mine())?.state === "DELIVERY_STATE_SUCCEEDED", 10_000);
      expect(hook.received.at(-1)!.id).toBe(failed.messageId);
      expect(hook.received.at(-1)!.verified).toBe(true);
      expect((await api("RetryDelivery", { id: failed.id })).body.code).toBe("failed_precondition");
    } finally {
      hook.state.status = 200;
    }
  });

  it("holds a channel to its rate limit: the next notification waits its turn", async () => {
    const c = await channel("slow", { webhook: { url: hook.url }, rateLimitPerMinute: 1 });
    const first = await api<{ delivery: Delivery }>("TestNotificationChannel", { id: c.channel.id });
    expect(first.body.delivery.state).toBe("DELIVERY_STATE_SUCCEEDED");
    const second = await api<{ delivery: Delivery }>("TestNotificationChannel", { id: c.channel.id });
    expect(second.body.delivery.state).toBe("DELIVERY_STATE_PENDING");
    expect(second.body.delivery.lastError).toBe("channel rate limit");
  });

  it("raises external alerts (the fleet's way in) with silences, notifications and a live watch", async () => {
    const c = await channel("fleet-pager", { webhook: { url: hook.url } });
    hook.state.secret = c.signingSecret;
    const rule = await ensureExternalRule(
      { db: pipeline.database.db, actor: "system:fleet" },
      { source: "maintenance", name: "Maintenance due", description: "Service interval reached", severity: "warning" },
    );
    const linked = await api("UpdateAlertRule", {
      rule: { id: String(rule.id), channelIds: [c.channel.id] },
      updateMask: "channelIds",
    });
    expect(linked.body.message ?? "").toBe("");
    const transport = createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => async (req) => {
          req.header.set("authorization", `Bearer ${userToken}`);
          return next(req);
        },
      ],
    });
    const client = createClient(AlertService, transport);
    const abort = new AbortController();
    const events: Array<{ kind: string; state?: AlertState; device?: number }> = [];
    const watching = (async () => {
      try {
        for await (const m of client.watchAlerts({ filter: { ruleId: BigInt(rule.id) } }, { signal: abort.signal })) {
          if (m.event.case === "snapshotComplete") events.push({ kind: "snapshot" });
          if (m.event.case === "alert")
            events.push({ kind: "alert", state: m.event.value.state, device: m.event.value.deviceNumber });
        }
      } catch {
        // aborted
      }
    })();
    await waitFor("the snapshot", () => events.some((e) => e.kind === "snapshot"));
    // Device 2 is silenced: its alert is recorded but its notification waits for the silence's end.
    const silence = await api<{ silence: { id: string } }>("CreateSilence", {
      matcher: { deviceCode: "OR", deviceNumber: 2 },
      duration: "3600s",
      comment: "being serviced",
    });
    const before = hook.received.length;
    const startedAtMs = Date.now() - 60_000;
    for (const number of [1, 2]) {
      const applied = await raiseExternalAlert(pipeline.database.db, {
        source: "maintenance",
        device: { code: "OR", number },
        summary: `OR-${number} is due for its 500-hour service`,
        startedAtMs,
        details: { hours: 503 },
      });
      expect(applied.fired).toHaveLength(1);
    }
    // Raising it again changes nothing.
    const again = await raiseExternalAlert(pipeline.database.db, {
      source: "maintenance",
      device: { code: "OR", number: 1 },
      summary: "again",
      startedAtMs,
    });
    expect(again.fired).toEqual([]);
    await waitFor("both alerts watched", () => events.filter((e) => e.kind === "alert").length >= 2, 10_000);
    await waitFor("the unsilenced one notified", () => hook.received.length > before, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const notified = hook.received.slice(before).map((w) => w.body.data.alert?.device?.number);
    expect(notified).toEqual([1]);
    const listed = await api<{ alerts: Array<{ deviceNumber: number; silenced?: boolean; kind: string }> }>(
      "ListAlerts",
      {
        filter: { ruleId: String(rule.id) },
      },
    );
    expect(listed.body.alerts.find((a) => a.deviceNumber === 2)?.silenced).toBe(true);
    expect(listed.body.alerts[0]!.kind).toBe("maintenance");
    // The silence ends: the held notification goes out.
    await api("DeleteSilence", { id: silence.body.silence.id });
    await waitFor(
      "the held notification",
      () => hook.received.slice(before).some((w) => w.body.data.alert?.device?.number === 2),
      10_000,
    );
    await resolveExternalAlert(pipeline.database.db, {
      source: "maintenance",
      device: { code: "OR", number: 1 },
      reason: "serviced",
    });
    await waitFor(
      "the resolution watched",
      () => events.some((e) => e.kind === "alert" && e.device === 1 && e.state === AlertState.RESOLVED),
      10_000,
    );
    abort.abort();
    await watching;
  });
});

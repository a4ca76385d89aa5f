import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AlerterApp } from "@vigil/alerter";
import { sql } from "@vigil/db";
import { Fleet } from "@vigil/simulator";
import { repoRoot, waitFor } from "@vigil/testkit";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertApi, startAlerter, startWebhookReceiver } from "./alert-kit.ts";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

type Alert = {
  id: string;
  ruleId: string;
  state: string;
  deviceCode: string;
  deviceNumber: number;
  sensor: string;
  summary: string;
  startTime: string;
  values?: Array<{ time: string; value: number }>;
  details?: Record<string, unknown>;
};

/**
 * Rules evaluated on a live fleet: the simulator injects faults (ground
 * truth), the alerter raises and resolves alerts on the readings' own times,
 * and notifications reach a real webhook receiver (signatures verified with
 * the standardwebhooks library) and a real SMTP server.
 */
describe("alert detection and notification", () => {
  let pipeline: Pipeline;
  let alerter: AlerterApp;
  let fleet: Fleet;
  let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let smtp: SMTPServer;
  let smtpPort = 0;
  const mails: string[] = [];
  let api: ReturnType<typeof alertApi>;
  let channelId = "";
  let mailChannelId = "";

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    hook = await startWebhookReceiver();
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onData(stream, _session, callback) {
        let text = "";
        stream.on("data", (c: Buffer) => {
          text += c.toString("utf8");
        });
        stream.on("end", () => {
          mails.push(text);
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", () => resolve()));
    smtpPort = (smtp.server.address() as { port: number }).port;
    api = alertApi(pipeline, pipeline.adminToken);
    const devices = await pipeline.provision("MON", 4);
    await pipeline.database.db
      .updateTable("devices")
      .set({ kind: "patient_monitor" })
      .where("code", "=", "MON")
      .execute();
    const channel = await api("CreateNotificationChannel", {
      channel: { name: "pager", webhook: { url: hook.url }, rateLimitPerMinute: 600 },
    });
    expect(channel.status).toBe(200);
    channelId = (channel.body as { channel: { id: string } }).channel.id;
    hook.state.secret = (channel.body as { signingSecret: string }).signingSecret;
    const mail = await api("CreateNotificationChannel", {
      channel: { name: "ward-mail", email: { to: ["nurse@ward.example"] } },
    });
    mailChannelId = (mail.body as { channel: { id: string } }).channel.id;
    alerter = await startAlerter(pipeline, {
      ALERTER_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      ALERTER_SMTP_FROM: "Vigil <alerts@vigil.example>",
    });
    fleet = new Fleet(devices, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      devicesPerConnection: 10,
      intervalMs: 100,
      samplesPerBatch: 10,
      maxBufferedBatches: 1_000,
      clock: "realtime",
    });
    void fleet.start();
    await waitFor("the fleet streaming", () => fleet.summary().connected === 4, 20_000);
  });

  afterAll(async () => {
    await fleet?.stop();
    await alerter?.stop();
    await hook?.close();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
    await pipeline?.stop();
  });

  const alerts = async (ruleId: string) =>
    (await api<{ alerts?: Alert[] }>("ListAlerts", { filter: { ruleId } })).body.alerts ?? [];

  it("an anomaly rule catches an injected spike at the spiked reading, once, and the webhook is signed", async () => {
    const rule = await api<{ rule: { id: string } }>("CreateAlertRule", {
      rule: {
        name: "heart rate anomaly",
        severity: "SEVERITY_CRITICAL",
        devices: { codes: ["MON"], numbers: [1] },
        sensors: ["patient.heart_rate_bpm"],
        anomaly: { sensitivity: 6, warmupSamples: 50 },
        channelIds: [channelId, mailChannelId],
        enabled: true,
      },
    });
    expect(rule.status).toBe(200);
    const ruleId = rule.body.rule.id;
    // Warm-up: 50 readings at 10 per second, plus the rule reaching the alerter.
    await new Promise((r) => setTimeout(r, 7_000));
    expect(await alerts(ruleId)).toEqual([]);
    const fault = fleet.injectFault({
      code: "MON",
      number: 1,
      sensor: "patient.heart_rate_bpm",
      kind: "spike",
      magnitude: 12,
      durationMs: 0,
    });
    await waitFor("the spike alert", async () => (await alerts(ruleId)).length > 0, 15_000);
    const [alert] = await alerts(ruleId);
    expect(alert!.deviceCode).toBe("MON");
    expect(alert!.deviceNumber).toBe(1);
    expect(alert!.sensor).toBe("patient.heart_rate_bpm");
    // Event time: the alert starts at the spiked reading, which is among its values.
    expect(Date.parse(alert!.startTime)).toBe(fault.firstReadingMs);
    const full = await api<{ alert: Alert }>("GetAlert", { id: alert!.id });
    expect(full.body.alert.values?.[0]?.time).toBe(new Date(fault.firstReadingMs!).toISOString());
    expect(Math.abs(Number(full.body.alert.details?.z))).toBeGreaterThanOrEqual(6);
    // A spike is one reading: the alert resolves with the next ones.
    await waitFor("the spike alert resolved", async () => (await alerts(ruleId))[0]?.state === "ALERT_STATE_RESOLVED");
    await waitFor("fired and resolved webhooks", () => {
      const mine = hook.received.filter((w) => w.body.data.alert?.ruleId === Number(ruleId));
      return mine.length >= 2;
    });
    const mine = hook.received.filter((w) => w.body.data.alert?.ruleId === Number(ruleId));
    expect(mine.map((w) => w.body.type).sort()).toEqual(["alert.fired", "alert.resolved"]);
    expect(mine.every((w) => w.verified)).toBe(true);
    expect(new Set(mine.map((w) => w.id)).size).toBe(2);
    expect(mine[0]!.id).toMatch(/^msg_alert\d+_(fired|resolved)_ch\d+$/);
    // The email channel got the same alert over SMTP.
    const fired = (m: string) =>
      m.includes("Subject: [Vigil CRITICAL] MON-1 patient.heart_rate_bpm: heart rate anomaly");
    await waitFor("the email", () => mails.some(fired));
    const mail = mails.find(fired)!;
    expect(mail).toContain("X-Vigil-Event: alert.fired");
    expect(mail).toContain("To: nurse@ward.example");
    // Only one alert for one spike.
    expect((await alerts(ruleId)).length).toBe(1);
  });

  it("a threshold rule holds for its duration in event time and resolves with hysteresis", async () => {
    const rule = await api<{ rule: { id: string } }>("CreateAlertRule", {
      rule: {
        name: "spo2 low",
        severity: "SEVERITY_WARNING",
        devices: { codes: ["MON"], numbers: [2] },
        sensors: ["patient.spo2_pct"],
        threshold: { comparison: "COMPARISON_BELOW", value: 80, for: "2s", hysteresis: 2 },
        channelIds: [channelId],
        enabled: true,
      },
    });
    const ruleId = rule.body.rule.id;
    await new Promise((r) => setTimeout(r, 1_000));
    // spo2 walks around 97 with sigma ~0.9: a step of -30 sigma for 4 s takes it far below 80.
    const fault = fleet.injectFault({
      code: "MON",
      number: 2,
      sensor: "patient.spo2_pct",
      kind: "step",
      magnitude: -30,
      durationMs: 4_000,
    });
    await waitFor("the threshold alert", async () => (await alerts(ruleId)).length > 0, 15_000);
    const [alert] = await alerts(ruleId);
    // It starts at the first low reading, and fired only once the condition held 2 s of event time.
    expect(Date.parse(alert!.startTime)).toBe(fault.firstReadingMs);
    expect(alert!.summary).toMatch(/MON-2 patient\.spo2_pct below 80 for 2s/);
    await waitFor(
      "resolved after the step",
      async () => (await alerts(ruleId))[0]?.state === "ALERT_STATE_RESOLVED",
      15_000,
    );
    expect((await alerts(ruleId)).length).toBe(1);
  });

  it("an absence rule raises a silent device and resolves when it speaks again", async () => {
    const rule = await api<{ rule: { id: string } }>("CreateAlertRule", {
      rule: {
        name: "monitor silent",
        severity: "SEVERITY_CRITICAL",
        devices: { codes: ["MON"], numbers: [3] },
        absence: { silentFor: "2s" },
        enabled: true,
      },
    });
    const ruleId = rule.body.rule.id;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await alerts(ruleId)).toEqual([]);
    fleet.injectFault({ code: "MON", number: 3, sensor: "", kind: "silence", magnitude: 0, durationMs: 5_000 });
    await waitFor("the absence alert", async () => (await alerts(ruleId)).length > 0, 15_000);
    const [alert] = await alerts(ruleId);
    expect(alert!.sensor ?? "").toBe("");
    expect(alert!.summary).toMatch(/MON-3 silent for 2s/);
    await waitFor("resolved", async () => (await alerts(ruleId))[0]?.state === "ALERT_STATE_RESOLVED", 15_000);
  });

  it("acknowledging is audited, and a second acknowledgement is refused", async () => {
    const rule = await api<{ rule: { id: string } }>("CreateAlertRule", {
      rule: {
        name: "battery full",
        severity: "SEVERITY_INFO",
        devices: { codes: ["MON"], numbers: [4] },
        sensors: ["patient.heart_rate_bpm"],
        threshold: { comparison: "COMPARISON_ABOVE", value: 0 },
        enabled: true,
      },
    });
    const ruleId = rule.body.rule.id;
    await waitFor("the alert", async () => (await alerts(ruleId)).length > 0, 15_000);
    const [alert] = await alerts(ruleId);
    const acked = await api<{ alert: Alert & { acknowledgedBy: string } }>("AcknowledgeAlert", {
      id: alert!.id,
      comment: "seen",
    });
    expect(acked.status).toBe(200);
    expect(acked.body.alert.state).toBe("ALERT_STATE_ACKNOWLEDGED");
    expect(acked.body.alert.acknowledgedBy).toBe("user:admin");
    const again = await api("AcknowledgeAlert", { id: alert!.id });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe("failed_precondition");
    const audit = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.acknowledge' AND target = ${`alert:${alert!.id}`}`.execute(
      pipeline.database.db,
    );
    expect(audit.rows[0]!.n).toBe(1);
  });

  it("serves every alerter metric docs/telemetry.md documents, and documents every one it serves", async () => {
    const doc = readFileSync(join(repoRoot, "docs/telemetry.md"), "utf8");
    const section = doc.split(/^## /m).find((x) => x.startsWith("Metrics\n")) ?? "";
    const documented = [...section.matchAll(/^\| `(vigil_alert[a-z_]*)`/gm)].map((m) => m[1]!);
    const text = await (await fetch(`http://127.0.0.1:${alerter.opsPort}/metrics`)).text();
    const served = [...text.matchAll(/^# TYPE (vigil_alert\S*)/gm)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThan(8);
    expect(served.sort()).toEqual(documented.sort());
    expect(text).toMatch(/^vigil_alerts\{state="firing"\} \d+/m);
    expect(text).toMatch(/^vigil_alerter_deliveries_total\{kind="webhook",outcome="succeeded"\} [1-9]/m);
  });
});

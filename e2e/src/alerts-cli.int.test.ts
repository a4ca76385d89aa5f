import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureExternalRule, raiseExternalAlert } from "@vigil/alerts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline } from "./pipeline.ts";
import { firstCliLine, runCli, runCliOnTerminal } from "./run-cli.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/**
 * `vigil alerts …` as an operator runs it: a client of AlertService signed in with `vigil login`,
 * JSON out (stdout is a pipe), the API's field names, its errors and scopes, and its audit.
 */
describe("vigil alerts", () => {
  let pipeline: Pipeline;
  let home: string;
  let env: Record<string, string | undefined>;
  const vigil = (args: string[], input?: string) => runCli(["alerts", ...args], env, input);

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    await pipeline.provision("ICU", 2);
    home = await mkdtemp(join(tmpdir(), "vigil-alerts-cli-"));
    env = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CONFIG_HOME: join(home, "config"),
      VIGIL_SERVER: pipeline.queryUrl,
      // The alerts commands must not need the database: this one is unreachable.
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    };
    const login = await runCli(["login", "--username", "admin"], env, `${ADMIN_PASSWORD}\n`);
    expect(login.code, login.stderr).toBe(0);
  });

  afterAll(async () => {
    await pipeline?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("manages channels, rules and silences over the API, with its validation, audited as the signed-in user", async () => {
    const added = await vigil(["channels", "add-webhook", "--name", "pager", "--url", "https://hooks.example/vigil"]);
    expect(added.code, added.stderr).toBe(0);
    const channel = added.out as { channel: { id: string; kind: string }; signingSecret: string };
    expect(channel.signingSecret).toMatch(/^whsec_/);
    expect(channel.channel.kind).toBe("CHANNEL_KIND_WEBHOOK");
    const channels = await vigil(["channels", "list"]);
    expect((channels.out as Array<{ name: string }>).map((c) => c.name)).toEqual(["pager"]);
    expect(channels.stdout).not.toContain(channel.signingSecret);

    // A rule file holds an AlertRule as the API's JSON: the same text CreateAlertRule takes over curl.
    const rule = {
      name: "SpO2 low",
      severity: "SEVERITY_CRITICAL",
      devices: { codes: ["ICU"] },
      sensors: ["patient.spo2_pct"],
      threshold: { comparison: "COMPARISON_BELOW", value: 90, for: "10s", hysteresis: 2 },
      channelIds: [channel.channel.id],
      enabled: true,
    };
    const created = await vigil(["rules", "create", "--file", "-"], JSON.stringify(rule));
    expect(created.code, created.stderr).toBe(0);
    expect(created.out).toMatchObject({ name: "SpO2 low", createdBy: "user:admin", threshold: { for: "10s" } });
    const ruleId = (created.out as { id: string }).id;
    // The whole request body works too.
    const wrapped = await vigil(
      ["rules", "create", "--file", "-"],
      JSON.stringify({ rule: { ...rule, name: "again" } }),
    );
    expect(wrapped.code, wrapped.stderr).toBe(0);

    // The server's validation, naming the field; a file that is no rule never reaches it.
    const bad = await vigil(
      ["rules", "create", "--file", "-"],
      JSON.stringify({ ...rule, threshold: undefined, anomaly: { sensitivity: 99 } }),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[invalid_argument\].*anomaly.sensitivity: must be from 2 to 50/);
    const typo = await vigil(["rules", "create", "--file", "-"], JSON.stringify({ ...rule, treshold: {} }));
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/not an AlertRule.*treshold/);
    expect((await vigil(["rules", "create", "--file", "-"], "{ not json")).code).toBe(2);

    const updated = await vigil(["rules", "update", "--id", ruleId, "--file", "-"], '{"severity": "SEVERITY_WARNING"}');
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.out).toMatchObject({
      severity: "SEVERITY_WARNING",
      name: "SpO2 low",
      sensors: ["patient.spo2_pct"],
    });
    const disabled = await vigil(["rules", "disable", "--id", ruleId]);
    expect((disabled.out as { enabled: boolean }).enabled).toBe(false);
    const rules = (await vigil(["rules", "list"])).out as Array<{ id: string; enabled: boolean }>;
    expect(rules.map((r) => [r.id, r.enabled])).toEqual([
      [ruleId, false],
      [(wrapped.out as { id: string }).id, true],
    ]);
    const deleted = await vigil(["rules", "delete", "--id", (wrapped.out as { id: string }).id]);
    expect(deleted.out).toEqual({ resolvedAlerts: "0" });

    const silence = await vigil(["silence", "--code", "ICU", "--for", "2h", "--comment", "ward move"]);
    expect(silence.code, silence.stderr).toBe(0);
    expect(silence.out).toMatchObject({ active: true, matcher: { deviceCode: "ICU" }, createdBy: "user:admin" });
    const silences = (await vigil(["silences", "list"])).out as Array<{ id: string; comment: string }>;
    expect(silences.map((s) => s.comment)).toEqual(["ward move"]);
    expect((await vigil(["unsilence", "--id", silences[0]!.id])).code).toBe(0);
    expect((await vigil(["silences", "list"])).out).toEqual([]);
    expect(((await vigil(["silences", "list", "--all"])).out as unknown[]).length).toBe(1);
    const tooLong = await vigil(["silence", "--code", "ICU", "--for", "9d"]);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toMatch(/duration: must be from 1 minute to 7 days/);
    expect((await vigil(["silence", "--for", "1h"])).code).toBe(1);

    // Wrong command lines are refused before any call.
    expect((await vigil(["list", "--state", "open"])).code).toBe(2);
    expect((await vigil(["ack"])).code).toBe(2);

    // Newest first; sign-ins are audited too.
    const audit = await runCli(["audit", "list", "--actor", "user:admin"], env);
    const actions = (audit.out as Array<{ action: string }>).map((e) => e.action).filter((a) => a !== "user.login");
    expect(actions.reverse()).toEqual([
      "notification_channel.create",
      "alert_rule.create",
      "alert_rule.create",
      "alert_rule.update",
      "alert_rule.update",
      "alert_rule.delete",
      "silence.create",
      "silence.delete",
    ]);
  });

  it("lists, shows and acknowledges alerts; a plain user may acknowledge but not add channels", async () => {
    const db = pipeline.database.db;
    await ensureExternalRule(
      { db, actor: "system:test" },
      { source: "cli-test", name: "Bed exit", description: "", severity: "critical" },
    );
    const raised = await raiseExternalAlert(db, {
      source: "cli-test",
      device: { code: "ICU", number: 2 },
      summary: "patient left the bed",
      startedAtMs: Date.now() - 60_000,
    });
    const alertId = String(raised.fired[0]);

    const firing = await vigil(["list", "--state", "firing", "--code", "ICU"]);
    expect(firing.out).toEqual([
      expect.objectContaining({
        id: alertId,
        state: "ALERT_STATE_FIRING",
        severity: "SEVERITY_CRITICAL",
        deviceCode: "ICU",
        deviceNumber: 2,
        summary: "patient left the bed",
      }),
    ]);
    expect((await vigil(["list", "--state", "acknowledged"])).out).toEqual([]);
    // On a terminal: a table with the API's field names as headers.
    const table = await runCliOnTerminal(["alerts", "list", "--code", "ICU"], env);
    expect(table.code, table.output).toBe(0);
    expect(table.output, table.output).toMatch(/id\s*│\s*state\s*│\s*severity\s*│\s*device\s*│\s*sensor\s*│\s*summary/);
    expect(table.output, table.output).toMatch(/│ ICU-2\s*│.*│ patient left the bed/);
    // watch: the open alerts first, one JSON object a line.
    const watched = await firstCliLine(["alerts", "watch", "--state", "firing"], env, (l) => l.includes(alertId));
    expect(JSON.parse(watched)).toMatchObject({ id: alertId, state: "ALERT_STATE_FIRING" });
    expect((await vigil(["get", "--id", alertId])).out).toMatchObject({ id: alertId, kind: "cli-test" });
    const missing = await vigil(["get", "--id", "999999"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("[not_found]");

    // A plain user (VIGIL_TOKEN instead of the stored sign-in) acknowledges; channels are for admins.
    const nurse = { ...env, VIGIL_TOKEN: await pipeline.userToken("nurse") };
    const acked = await runCli(["alerts", "ack", "--id", alertId, "--comment", "on my way"], nurse);
    expect(acked.code, acked.stderr).toBe(0);
    expect(acked.out).toMatchObject({
      state: "ALERT_STATE_ACKNOWLEDGED",
      acknowledgedBy: "user:nurse",
      acknowledgeComment: "on my way",
    });
    const refused = await runCli(
      ["alerts", "channels", "add-webhook", "--name", "x", "--url", "https://x.example/"],
      nurse,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[permission_denied]");
    const audit = await runCli(["audit", "list", "--actor", "user:nurse", "--action", "alert.acknowledge"], env);
    expect(audit.out).toEqual([expect.objectContaining({ target: `alert:${alertId}` })]);

    // Deliveries: none were due (the rules name no channel); the listing still answers in the API's shape.
    const deliveries = await vigil(["deliveries", "list", "--state", "failed"]);
    expect(deliveries).toMatchObject({ code: 0, out: [] });
    const retry = await vigil(["deliveries", "retry", "--id", "424242"]);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain("[not_found]");
  });
});

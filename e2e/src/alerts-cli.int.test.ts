import { execFile } from "node:child_process";
import { join } from "node:path";
import { migrateToLatest, openDatabase, sql } from "@vigil/db";
import { createTestDatabase, repoRoot } from "@vigil/testkit";
import { beforeAll, describe, expect, inject, it } from "vitest";

/** `vigil alerts …` as an operator runs it: JSON out, audited as cli:<os user>. */
describe("vigil alerts", () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { ...process.env, DATABASE_URL: await createTestDatabase(inject("postgresUrl")) } as Record<string, string>;
    const database = await openDatabase(env.DATABASE_URL!);
    await migrateToLatest(database.db);
    await database.close();
  });

  function vigil(args: string[], input?: string): Promise<{ code: number; out: unknown; err: string }> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [join(repoRoot, "packages/cli/src/main.ts"), "alerts", ...args],
        { env },
        (error, stdout, stderr) => {
          const code = error ? ((error as { code?: number }).code ?? 1) : 0;
          resolve({ code, out: code === 0 ? JSON.parse(stdout) : undefined, err: stderr });
        },
      );
      child.stdin?.end(input ?? "");
    });
  }

  it("adds a webhook channel (secret printed once), creates a rule from stdin, silences and lists, all audited", async () => {
    const channel = (
      await vigil(["channels", "add-webhook", "--name", "pager", "--url", "https://hooks.example/vigil"])
    ).out as { channel: { id: number }; signingSecret: string };
    expect(channel.signingSecret).toMatch(/^whsec_/);
    const listed = await vigil(["channels", "list"]);
    expect(JSON.stringify(listed.out)).not.toContain(channel.signingSecret);
    const rule = {
      name: "SpO2 low",
      severity: "critical",
      devices: { codes: ["ICU"] },
      sensors: ["patient.spo2_pct"],
      condition: { kind: "threshold", comparison: "below", value: 90, forMs: 10_000, hysteresis: 2 },
      channelIds: [channel.channel.id],
    };
    const created = await vigil(["rules", "create", "--file", "-"], JSON.stringify(rule));
    expect(created.code).toBe(0);
    const ruleId = (created.out as { id: number }).id;
    const bad = await vigil(
      ["rules", "create", "--file", "-"],
      JSON.stringify({ ...rule, condition: { kind: "anomaly", sensitivity: 99 } }),
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/anomaly.sensitivity: must be from 2 to 50/);
    const disabled = await vigil(["rules", "disable", "--id", String(ruleId)]);
    expect((disabled.out as { enabled: boolean }).enabled).toBe(false);
    const silence = await vigil(["silence", "--code", "ICU", "--for", "2h", "--comment", "ward move"]);
    expect(silence.code).toBe(0);
    const silences = (await vigil(["silences", "list"])).out as Array<{ id: number; comment: string }>;
    expect(silences.map((s) => s.comment)).toEqual(["ward move"]);
    expect((await vigil(["unsilence", "--id", String(silences[0]!.id)])).code).toBe(0);
    expect(((await vigil(["silences", "list"])).out as unknown[]).length).toBe(0);
    expect((await vigil(["silence", "--code", "ICU", "--for", "9d"])).err).toMatch(
      /duration: must be from 1 minute to 7 days/,
    );
    expect((await vigil(["list", "--state", "open"])).code).toBe(2);
    const database = await openDatabase(env.DATABASE_URL!);
    const audit = await sql<{ actor: string; action: string }>`SELECT actor, action FROM audit_log ORDER BY id`.execute(
      database.db,
    );
    await database.close();
    expect(audit.rows.map((r) => r.action)).toEqual([
      "notification_channel.create",
      "alert_rule.create",
      "alert_rule.update",
      "silence.create",
      "silence.delete",
    ]);
    expect(audit.rows.every((r) => r.actor.startsWith("cli:"))).toBe(true);
  });
});

import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { migrateToLatest, openDatabase, sql } from "@vigil/db";
import { createTestDatabase, repoRoot } from "@vigil/testkit";
import { beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);

describe("vigil CLI", () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = {
      ...process.env,
      DATABASE_URL: await createTestDatabase(inject("postgresUrl")),
      NATS_URL: inject("natsUrl"),
    } as Record<string, string>;
  });

  /** Runs `vigil …` as an operator would; resolves with exit code, parsed stdout and stderr. */
  async function vigil(...args: string[]) {
    try {
      const { stdout, stderr } = await run(process.execPath, [join(repoRoot, "packages/cli/src/main.ts"), ...args], {
        env,
      });
      return { code: 0, out: JSON.parse(stdout), err: stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, out: undefined, err: err.stderr };
    }
  }

  it("migrates, then manages devices and keys end to end, auditing each change", async () => {
    const migrated = await vigil("migrate");
    expect(migrated.code).toBe(0);
    expect(migrated.out.applied).toContain("0001-core");

    const created = await vigil(
      "devices",
      "create",
      "--code",
      "ICU",
      "--number",
      "1",
      "--count",
      "3",
      "--site",
      "ward-4",
      "--label",
      "floor=2",
    );
    expect(created.code).toBe(0);
    expect(created.out).toHaveLength(3);
    expect(created.out[2]).toMatchObject({ code: "ICU", number: 3, apiKey: expect.stringMatching(/^vgl_/) });

    const listed = await vigil("devices", "list", "--code", "ICU");
    expect(listed.out.map((d: { number: number }) => d.number)).toEqual([1, 2, 3]);
    expect(listed.out[0]).toMatchObject({ site: "ward-4", labels: { floor: "2" }, online: false });
    expect(JSON.stringify(listed.out)).not.toContain(created.out[0].apiKey);

    const rotated = await vigil("devices", "rotate-key", "--code", "ICU", "--number", "1", "--grace", "1h");
    expect(rotated.out).toMatchObject({
      apiKey: expect.stringMatching(/^vgl_/),
      prefix: rotated.out.apiKey.slice(4, 16),
    });
    const oldPrefix = created.out[0].apiKey.slice(4, 16);
    const revoked = await vigil("devices", "revoke-key", "--code", "ICU", "--number", "1", "--prefix", oldPrefix);
    expect(revoked.out.keys.find((k: { prefix: string }) => k.prefix === oldPrefix).revokedAt).toBeTruthy();
    const disabled = await vigil("devices", "disable", "--code", "ICU", "--number", "3");
    expect(disabled.out.disabledAt).toBeTruthy();

    const database = await openDatabase(env.DATABASE_URL!);
    const { rows } = await sql<{
      action: string;
      actor: string;
    }>`SELECT action, actor FROM audit_log ORDER BY id`.execute(database.db);
    await database.close();
    expect(rows.map((r) => r.action)).toEqual([
      "device.create",
      "device.create",
      "device.create",
      "device_key.rotate",
      "device_key.revoke",
      "device.disable",
    ]);
    expect(rows[0]!.actor).toMatch(/^cli:/);
  });

  it("explains bad input with exit code 2 and failures with exit code 1, never a stack trace", async () => {
    for (const args of [
      ["nope"],
      ["devices", "create", "--code", "ICU"],
      ["devices", "create", "--code", "ICU", "--number", "x"],
      ["devices", "rotate-key", "--code", "ICU", "--number", "1", "--grace", "soon"],
      ["devices", "list", "--bogus"],
    ]) {
      const r = await vigil(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(/^vigil: /);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    const missing = await vigil("devices", "get", "--code", "ICU", "--number", "99");
    expect(missing).toMatchObject({ code: 1, err: "vigil: device ICU-99 does not exist\n" });
    const lower = await vigil("devices", "create", "--code", "icu", "--number", "1");
    expect(lower.err).toMatch(/capital letters/);
  });

  it("lists dead letters and warns, without failing, when NATS is unreachable", async () => {
    const database = await openDatabase(env.DATABASE_URL!);
    await migrateToLatest(database.db);
    await sql`INSERT INTO dead_letters (device_id, seq, source, code, reason) VALUES (1, 7, 'receiver', 'REJECT_CODE_INVALID_BATCH', 'test')`.execute(
      database.db,
    );
    await database.close();
    const listed = await vigil("dead-letters", "list");
    expect(listed.out).toMatchObject([{ device: "ICU-1", seq: 7, reason: "test", payloadBytes: 0 }]);
    env.NATS_URL = "nats://127.0.0.1:1";
    const disabled = await vigil("devices", "disable", "--code", "ICU", "--number", "2");
    expect(disabled.code).toBe(0);
    expect(disabled.err).toMatch(/could not tell receivers over NATS/);
  });
});

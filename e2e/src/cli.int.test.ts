import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "@vigil/db";
import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { cliMain, runCli, runOnTerminal } from "./run-cli.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("vigil CLI against the API", () => {
  let pipeline: Pipeline;
  let home: string;
  let env: Record<string, string | undefined>;
  const vigil = (args: string[], input?: string) => runCli(args, env, input);
  const credentialsPath = () => join(home, "config", "vigil", "credentials.json");
  const stored = async () =>
    JSON.parse(await readFile(credentialsPath(), "utf8")) as {
      current: string;
      servers: Record<string, { accessToken: string; refreshToken: string }>;
    };

  beforeAll(async () => {
    // Access tokens live 20 s, less than the 30 s before expiry at which the CLI refreshes them:
    // every command after the sign-in must refresh.
    pipeline = await startTestPipeline({ env: { AUTH_ACCESS_TOKEN_TTL_MS: "20000" } });
    home = await mkdtemp(join(tmpdir(), "vigil-cli-home-"));
    env = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CONFIG_HOME: join(home, "config"),
      VIGIL_SERVER: pipeline.queryUrl,
      // The API commands must not need the database: this one is unreachable.
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    };
  });
  afterAll(async () => {
    await pipeline?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("asks for a sign-in, refuses a wrong password, and keeps the tokens readable by the user only", async () => {
    const anonymous = await vigil(["devices", "list"]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain("[unauthenticated]");
    expect(anonymous.stderr).toContain(`vigil login --server ${pipeline.queryUrl}`);

    const wrong = await vigil(["login", "--username", "admin"], "not-the-password\n");
    expect(wrong).toMatchObject({ code: 1, stderr: expect.stringContaining("invalid username or password") });

    const login = await vigil(["login", "--username", "admin"], `${ADMIN_PASSWORD}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.out).toMatchObject({
      server: pipeline.queryUrl,
      user: { username: "admin", role: "ROLE_ADMIN" },
      scopes: expect.arrayContaining(["devices:admin"]),
      credentials: credentialsPath(),
    });
    expect((await stat(credentialsPath())).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, "config", "vigil"))).mode & 0o777).toBe(0o700);
    const tokens = (await stored()).servers[pipeline.queryUrl]!;
    expect(tokens.accessToken).toBeTruthy();
    // The tokens stay in the file: not on the screen, not in a terminal's scrollback.
    expect(login.stdout).not.toContain(tokens.accessToken);
    expect(login.stdout).not.toContain(tokens.refreshToken);
    expect((await stored()).current).toBe(pipeline.queryUrl);
  });

  it("manages devices and keys over the API, audited as the signed-in user, in one output shape", async () => {
    const created = await vigil([
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
    ]);
    expect(created.code, created.stderr).toBe(0);
    const keys = created.out as Array<{ device: { code: string; number: number }; apiKey: string }>;
    expect(keys.map((k) => k.device.number)).toEqual([1, 2, 3]);
    expect(keys[2]).toMatchObject({ device: { code: "ICU", site: "ward-4" }, apiKey: expect.stringMatching(/^vgl_/) });

    // Without --count: the same shape, a list of one.
    const single = await vigil(["devices", "create", "--code", "OR", "--number", "7"]);
    expect(single.out).toEqual([
      { device: expect.objectContaining({ code: "OR", number: 7 }), apiKey: expect.any(String) },
    ]);

    const listed = await vigil(["devices", "list", "--code", "ICU"]);
    const devices = listed.out as Array<Record<string, unknown>>;
    expect(devices.map((d) => d.number)).toEqual([1, 2, 3]);
    // API field names, defaults included.
    expect(devices[0]).toMatchObject({ site: "ward-4", labels: { floor: "2" }, online: false, lastStoredSeq: "0" });
    expect(listed.stdout).not.toContain(keys[0]!.apiKey);

    const rotated = await vigil(["devices", "rotate-key", "--code", "ICU", "--number", "1", "--grace", "1h"]);
    const newKey = (rotated.out as { apiKey: string; key: { prefix: string } }).apiKey;
    expect((rotated.out as { key: { prefix: string } }).key.prefix).toBe(newKey.slice(4, 16));
    const oldPrefix = keys[0]!.apiKey.slice(4, 16);
    const revoked = await vigil(["devices", "revoke-key", "--code", "ICU", "--number", "1", "--prefix", oldPrefix]);
    const revokedKeys = (revoked.out as { keys: Array<{ prefix: string; revokeTime?: string }> }).keys;
    expect(revokedKeys.find((k) => k.prefix === oldPrefix)?.revokeTime).toBeTruthy();
    const disabled = await vigil(["devices", "disable", "--code", "ICU", "--number", "3"]);
    expect((disabled.out as { disableTime?: string }).disableTime).toBeTruthy();

    const audit = await vigil(["audit", "list", "--actor", "user:admin"]);
    const entries = audit.out as Array<{ actor: string; action: string; target: string }>;
    expect(entries.map((e) => e.action).slice(0, 3)).toEqual([
      "device.disable",
      "device_key.revoke",
      "device_key.rotate",
    ]);
    const { rows } = await sql<{ actor: string }>`
      SELECT DISTINCT actor FROM audit_log WHERE action LIKE 'device%'`.execute(pipeline.database.db);
    expect(rows.map((r) => r.actor)).toEqual(["user:admin"]);
  });

  it("refreshes expired access tokens, once across processes running at the same time", async () => {
    const before = (await stored()).servers[pipeline.queryUrl]!;
    // The access token is about to expire: five commands at once each need a fresh one; a refresh
    // token works once and reuse signs the user out, so they must take turns.
    const runs = await Promise.all(
      Array.from({ length: 5 }, () => vigil(["devices", "get", "--code", "OR", "--number", "7"])),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const after = (await stored()).servers[pipeline.queryUrl]!;
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect((await vigil(["devices", "get", "--code", "OR", "--number", "7"])).code).toBe(0);
  });

  it("lists dead letters and replays over the API", async () => {
    await sql`INSERT INTO dead_letters (device_id, seq, source, code, reason)
              SELECT id, 7, 'receiver', 'REJECT_CODE_INVALID_BATCH', 'test' FROM devices WHERE code = 'ICU' AND number = 1`.execute(
      pipeline.database.db,
    );
    const listed = await vigil(["dead-letters", "list", "--source", "receiver"]);
    expect(listed.out).toMatchObject([{ device: "ICU-1", seq: "7", reason: "test", payloadBytes: 0 }]);
    const id = (listed.out as Array<{ id: string }>)[0]!.id;
    // No payload kept: the server explains, the CLI exits 1.
    const replay = await vigil(["dead-letters", "replay", "--id", id]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/^vigil: \[/);
  });

  it("creates users over the API; a plain user is refused admin work with a hint", async () => {
    const created = await vigil(["users", "create", "--username", "nurse", "--role", "user"], `${USER_PASSWORD}\n`);
    expect(created.out).toMatchObject({ username: "nurse", role: "ROLE_USER" });
    const asNurse = { ...env, XDG_CONFIG_HOME: join(home, "nurse") };
    expect((await runCli(["login", "--username", "nurse"], asNurse, USER_PASSWORD)).code).toBe(0);
    const refused = await runCli(["devices", "list"], asNurse);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[permission_denied]");

    // VIGIL_TOKEN: an access token from the environment, no stored sign-in.
    const { accessToken } = await pipeline.login("admin", ADMIN_PASSWORD);
    const withToken = await runCli(["devices", "get", "--code", "OR", "--number", "7"], {
      ...env,
      XDG_CONFIG_HOME: join(home, "empty"),
      VIGIL_TOKEN: accessToken,
    });
    expect(withToken.code, withToken.stderr).toBe(0);
  });

  it("explains bad command lines with exit code 2 and failures with exit code 1, never a stack trace", async () => {
    for (const args of [["-h"], ["--help"], ["--version"], ["-V"], ["devices", "--help"], ["help", "devices"]]) {
      const r = await vigil(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout.length, args.join(" ")).toBeGreaterThan(0);
    }
    expect((await vigil(["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    for (const args of [
      [],
      ["nope"],
      ["archive", "list", "--foo"],
      ["devices", "create", "--code", "ICU"],
      ["devices", "create", "--code", "ICU", "--number", "x"],
      ["devices", "rotate-key", "--code", "ICU", "--number", "1", "--grace", "soon"],
      ["devices", "list", "--bogus"],
      ["devices", "list", "--online", "maybe"],
      ["--server", "ftp://example", "devices", "list"],
    ]) {
      const r = await vigil(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/^(vigil: |Usage: vigil)/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const missing = await vigil(["devices", "get", "--code", "ICU", "--number", "99"]);
    expect(missing).toMatchObject({ code: 1, stderr: "vigil: [not_found] device ICU-99 does not exist\n" });
    const lower = await vigil(["devices", "create", "--code", "icu", "--number", "1"]);
    expect(lower.code).toBe(1);
    expect(lower.stderr).toMatch(/capital letters/);
    const down = await runCli(["devices", "list"], { ...env, VIGIL_SERVER: "http://127.0.0.1:1" });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("is the query service running at http://127.0.0.1:1?");
  });

  it("prints tables and a progress bar on a terminal", async () => {
    // `script` gives the CLI a real pseudo-terminal, as an operator's shell would.
    const command = [process.execPath, cliMain, "devices", "create", "--code", "TTY", "--number", "1", "--count", "40"]
      .map((a) => `'${a}'`)
      .join(" ");
    const shell = await runOnTerminal(command, env);
    expect(shell.code, shell.output).toBe(0);
    expect(shell.output, shell.output).toContain("creating devices");
    expect(shell.output, shell.output).toMatch(/\/40/);
    // A table with the API's field names as headers, one row per device.
    expect(shell.output, shell.output).toMatch(/device\.code\s*│\s*device\.number\s*│\s*apiKey/);
    expect(shell.output.match(/│ TTY /g), shell.output).toHaveLength(40);
  });

  it("signs out: the server revokes the sign-in and the tokens are forgotten", async () => {
    const { refreshToken } = (await stored()).servers[pipeline.queryUrl]!;
    const out = await vigil(["logout"]);
    expect(out.out).toEqual({ server: pipeline.queryUrl, signedOut: true });
    expect((await stored()).servers[pipeline.queryUrl]).toBeUndefined();
    const res = await fetch(`${pipeline.queryUrl}/vigil.auth.v1.AuthService/Refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken }),
    });
    expect(res.status).toBe(401);
    expect((await vigil(["devices", "list"])).code).toBe(1);
  });
});

describe("vigil CLI on the database (migrate)", () => {
  it("migrates a fresh database; database-level commands on an unmigrated one say to run vigil migrate", async () => {
    const url = await createTestDatabase(inject("postgresUrl"), "cli_migrate");
    const env = { PATH: process.env.PATH, HOME: tmpdir(), DATABASE_URL: url };
    const dir = await mkdtemp(join(tmpdir(), "vigil-cli-archive-"));
    try {
      const early = await runCli(
        ["archive", "restore", "--from", "2025-01-01", "--to", "2025-01-02", "--archive", `file:${dir}`],
        env,
      );
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/not migrated .*run `vigil migrate` first/);
      expect(early.stderr).not.toMatch(/relation .* does not exist/);
      const migrated = await runCli(["migrate"], env);
      expect(migrated.code, migrated.stderr).toBe(0);
      expect((migrated.out as { applied: string[] }).applied).toContain("0001-core");
      expect(((await runCli(["migrate"], env)).out as { applied: string[] }).applied).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "@vigil/db";
import { ReadingService } from "@vigil/proto";
import type { QueryApp } from "@vigil/query";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline, roleUrl, USER_PASSWORD } from "./pipeline.ts";
import { runCli } from "./run-cli.ts";
import { startTestPipeline } from "./test-pipeline.ts";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, checked by the assertions
type Answer = { status: number; body: Record<string, any> };

/**
 * People's accounts over the real query service, PostgreSQL (as the query
 * service's own database role) and NATS, with a second query replica: what a
 * hospital's admin does when someone leaves, loses a password or changes job.
 */
describe("user lifecycle", () => {
  let pipeline: Pipeline;
  let replica: QueryApp;
  let replicaUrl: string;

  async function call(method: string, body: unknown, token?: string, base = pipeline.queryUrl): Promise<Answer> {
    const res = await fetch(`${base}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Answer["body"] };
  }
  const users = (method: string, body: unknown, token: string) =>
    call(`vigil.auth.v1.UserService/${method}`, body, token);
  const login = (username: string, password: string) => call("vigil.auth.v1.AuthService/Login", { username, password });
  const refresh = (refreshToken: string) => call("vigil.auth.v1.AuthService/Refresh", { refreshToken });
  const listReadings = (token: string, base?: string) =>
    call("vigil.readings.v1.ReadingService/ListReadings", {}, token, base);
  /** A fresh sign-in: these tests end the admin's tokens on purpose (disable, role changes). */
  const adminToken = async (): Promise<string> => (await login("admin", ADMIN_PASSWORD)).body.tokens.accessToken;
  const register = async (username: string, role = "ROLE_USER") => {
    const made = await call(
      "vigil.auth.v1.AuthService/Register",
      { username, password: USER_PASSWORD, role },
      await adminToken(),
    );
    expect(made.status, JSON.stringify(made.body)).toBe(200);
  };

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      componentRoles: true,
      env: {
        AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN: "4",
        QUERY_USER_REQUESTS_PER_MIN: "6000",
        // Far longer than the test: a refused token must come from the announcement, not the cache expiring.
        AUTH_TOKEN_VERSION_CACHE_MS: "600000",
      },
    });
    replica = await pipeline.startQuery({ DATABASE_URL: roleUrl(pipeline.databaseUrl, "query") });
    replicaUrl = `http://127.0.0.1:${replica.port}`;
  });
  afterAll(() => pipeline?.stop());

  it("is for admins: a plain user gets permission_denied on every UserService method", async () => {
    const reader = await pipeline.userToken("reader");
    for (const method of ["ListUsers", "DisableUser", "EnableUser", "DeleteUser", "SetUserRole", "ResetPassword"]) {
      const r = await users(method, { username: "admin", role: "ROLE_USER" }, reader);
      expect(r, method).toMatchObject({ status: 403, body: { code: "permission_denied" } });
    }
    expect((await users("ListUsers", {}, "")).status).toBe(401);
  });

  it("disables a user: live access tokens refused on every replica at once, refresh and sign-in refused; enable undoes it", async () => {
    await register("nurse");
    const session = (await login("nurse", USER_PASSWORD)).body.tokens;
    // Both replicas have checked (and cached) the token's version.
    expect((await listReadings(session.accessToken)).status).toBe(200);
    expect((await listReadings(session.accessToken, replicaUrl)).status).toBe(200);

    const admin = await adminToken();
    const disabled = await users("DisableUser", { username: "Nurse" }, admin);
    expect(disabled).toMatchObject({
      status: 200,
      body: { user: { username: "nurse", disableTime: expect.any(String) } },
    });

    expect(await listReadings(session.accessToken)).toMatchObject({ status: 401 });
    // The other replica learnt it over NATS; its cache alone would have trusted the token for 10 minutes.
    await expect
      .poll(async () => (await listReadings(session.accessToken, replicaUrl)).status, { timeout: 2_000 })
      .toBe(401);
    expect((await refresh(session.refreshToken)).status).toBe(401);
    // Signing in is refused. Only whoever knows the password is told why; a wrong password gets
    // the answer an unknown user gets, so the account's state is not told to a stranger.
    expect(await login("nurse", USER_PASSWORD)).toMatchObject({
      status: 403,
      body: { code: "permission_denied", message: "this account is disabled: ask an administrator" },
    });
    const wrong = await login("nurse", "not-the-password-at-all");
    const unknown = await login("nobody-here", "not-the-password-at-all");
    expect(wrong).toMatchObject({ status: 401, body: { message: "invalid username or password" } });
    expect(wrong.body).toEqual(unknown.body);

    const listed = await users("ListUsers", { disabled: true }, admin);
    expect(listed.body.users.map((u: { username: string }) => u.username)).toEqual(["nurse"]);

    const enabled = await users("EnableUser", { username: "nurse" }, admin);
    expect(enabled.status).toBe(200);
    expect(enabled.body.user.disableTime).toBeUndefined();
    const again = (await login("nurse", USER_PASSWORD)).body.tokens;
    expect((await listReadings(again.accessToken)).status).toBe(200);
    // Enabling an enabled user changes nothing: their sessions go on.
    expect((await users("EnableUser", { username: "nurse" }, admin)).status).toBe(200);
    expect((await listReadings(again.accessToken)).status).toBe(200);
    expect((await listReadings(again.accessToken, replicaUrl)).status).toBe(200);
    // What the disable ended stays ended.
    expect((await refresh(session.refreshToken)).status).toBe(401);

    const { rows } = await sql<{ action: string; actor: string; target: string }>`
      SELECT action, actor, target FROM audit_log WHERE target = 'user:nurse' AND action IN ('user.disable', 'user.enable')
      ORDER BY id`.execute(pipeline.database.db);
    expect(rows).toEqual([
      { action: "user.disable", actor: "user:admin", target: "user:nurse" },
      { action: "user.enable", actor: "user:admin", target: "user:nurse" },
    ]);
  });

  it("ends a disabled user's open live tail at once, on another replica too", async () => {
    await register("watcher");
    const token = (await login("watcher", USER_PASSWORD)).body.tokens.accessToken;
    const transport = createConnectTransport({
      baseUrl: replicaUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    const abort = new AbortController();
    // How the stream ended, observed from the start: it may end before DisableUser answers.
    const outcome = (async () => {
      for await (const _ of createClient(ReadingService, transport).watchReadings({}, { signal: abort.signal })) {
        // No readings flow here: the stream only waits.
      }
    })().then(
      () => "completed",
      (err) => ConnectError.from(err).code,
    );
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    expect((await users("DisableUser", { username: "watcher" }, await adminToken())).status).toBe(200);
    const ended = await Promise.race([outcome, new Promise((r) => setTimeout(() => r("still open"), 5_000))]);
    abort.abort();
    expect(ended).toBe(Code.Unauthenticated);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("applies a role change to the user's live token at once; a refresh carries the new scopes", async () => {
    await register("tech");
    const session = (await login("tech", USER_PASSWORD)).body.tokens;
    const listDevices = (token: string) => call("vigil.devices.v1.DeviceService/ListDevices", {}, token);
    expect((await listDevices(session.accessToken)).status).toBe(403);

    const admin = await adminToken();
    const changed = await users("SetUserRole", { username: "tech", role: "ROLE_ADMIN" }, admin);
    expect(changed).toMatchObject({ status: 200, body: { user: { username: "tech", role: "ROLE_ADMIN" } } });
    expect((await listDevices(session.accessToken)).status).toBe(401);
    const renewed = await refresh(session.refreshToken);
    expect(renewed.body.tokens.scopes).toContain("devices:admin");
    expect((await listDevices(renewed.body.tokens.accessToken)).status).toBe(200);

    // The same role again changes nothing: the token goes on.
    expect((await users("SetUserRole", { username: "tech", role: "ROLE_ADMIN" }, admin)).status).toBe(200);
    expect((await listDevices(renewed.body.tokens.accessToken)).status).toBe(200);
    // And back: the admin token just issued stops working at once.
    expect((await users("SetUserRole", { username: "tech", role: "ROLE_TECHNICIAN" }, admin)).status).toBe(200);
    expect((await listDevices(renewed.body.tokens.accessToken)).status).toBe(401);
    expect(await users("SetUserRole", { username: "tech", role: "ROLE_UNSPECIFIED" }, admin)).toMatchObject({
      status: 400,
    });
    expect(await users("SetUserRole", { username: "nobody", role: "ROLE_USER" }, admin)).toMatchObject({
      status: 404,
    });
  });

  it("never leaves the system without an enabled admin, and an admin cannot lock themselves out", async () => {
    const admin = await adminToken();
    for (const [method, body] of [
      ["DisableUser", { username: "admin" }],
      ["DeleteUser", { username: "admin" }],
      ["SetUserRole", { username: "admin", role: "ROLE_USER" }],
    ] as const) {
      const r = await users(method, body, admin);
      expect(r, method).toMatchObject({ status: 400, body: { code: "failed_precondition" } });
    }
    // The last-admin message for the demotion, which is allowed while another admin exists.
    expect((await users("SetUserRole", { username: "admin", role: "ROLE_USER" }, admin)).body.message).toMatch(
      /last enabled admin/,
    );

    // Two admins demoting each other at the same moment: one wins, the other is refused.
    await register("boss", "ROLE_ADMIN");
    await register("chief", "ROLE_ADMIN");
    const boss = (await login("boss", USER_PASSWORD)).body.tokens.accessToken;
    const chief = (await login("chief", USER_PASSWORD)).body.tokens.accessToken;
    expect((await users("DisableUser", { username: "admin" }, boss)).status).toBe(200);
    const [a, b] = await Promise.all([
      users("SetUserRole", { username: "chief", role: "ROLE_USER" }, boss),
      users("SetUserRole", { username: "boss", role: "ROLE_USER" }, chief),
    ]);
    expect([a.status, b.status].filter((s) => s === 200)).toHaveLength(1);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL`.execute(pipeline.database.db);
    expect(rows[0]!.n).toBe(1);

    // The winner re-enables the bootstrap admin for the tests that follow.
    const winner = a.status === 200 ? "boss" : "chief";
    const token = (await login(winner, USER_PASSWORD)).body.tokens.accessToken;
    expect((await users("EnableUser", { username: "admin" }, token)).status).toBe(200);
  });

  it("changes one's own password: the current one is checked and limited, other sessions end, fresh tokens return", async () => {
    await register("doctor");
    const other = (await login("doctor", USER_PASSWORD)).body.tokens;
    const mine = (await login("doctor", USER_PASSWORD)).body.tokens;
    const change = (body: unknown, token: string) => call("vigil.auth.v1.AuthService/ChangePassword", body, token);
    const fresh = "a-new-password-for-doctor";

    const wrong = await change({ currentPassword: "not-my-password-at-all", newPassword: fresh }, mine.accessToken);
    expect(wrong).toMatchObject({ status: 400, body: { code: "invalid_argument", message: /current_password/ } });
    // A mistake in the new password does not count against the user.
    for (let i = 0; i < 5; i++) {
      expect((await change({ currentPassword: USER_PASSWORD, newPassword: "short" }, mine.accessToken)).status).toBe(
        400,
      );
    }
    expect(await change({ currentPassword: "x", newPassword: fresh }, "")).toMatchObject({ status: 401 });

    const done = await change({ currentPassword: USER_PASSWORD, newPassword: fresh }, mine.accessToken);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const tokens = done.body.tokens;
    expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.stringMatching(/^vrt_/) });
    expect((await listReadings(tokens.accessToken)).status).toBe(200);
    for (const old of [other, mine]) {
      expect((await listReadings(old.accessToken)).status).toBe(401);
      expect((await refresh(old.refreshToken)).status).toBe(401);
    }
    expect((await login("doctor", USER_PASSWORD)).status).toBe(401);
    expect((await login("doctor", fresh)).status).toBe(200);

    // Guessing the current password through a (stolen) token is limited like sign-ins: 4 a minute here,
    // the wrong guess above included (a new password does not reset the count).
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await change(
        { currentPassword: `guess-number-${i}-xx`, newPassword: USER_PASSWORD },
        tokens.accessToken,
      );
      statuses.push(r.status);
    }
    expect(statuses).toEqual([400, 400, 400, 429, 429, 429]);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM audit_log
      WHERE action = 'user.password_change_refused' AND actor = 'user:doctor'`.execute(pipeline.database.db);
    expect(rows[0]!.n).toBe(4);
  });

  it("resets a password: set or generated (shown once), every session of the user ends", async () => {
    await register("porter");
    const session = (await login("porter", USER_PASSWORD)).body.tokens;
    const admin = await adminToken();
    const generated = await users("ResetPassword", { username: "porter" }, admin);
    expect(generated.status).toBe(200);
    const password = generated.body.generatedPassword as string;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect((await listReadings(session.accessToken)).status).toBe(401);
    expect((await refresh(session.refreshToken)).status).toBe(401);
    expect((await login("porter", USER_PASSWORD)).status).toBe(401);
    expect((await login("porter", password)).status).toBe(200);

    const given = await users("ResetPassword", { username: "porter", password: "chosen-by-the-admin" }, admin);
    expect(given.status).toBe(200);
    expect(given.body.generatedPassword).toBeUndefined();
    expect((await login("porter", "chosen-by-the-admin")).status).toBe(200);
    expect(await users("ResetPassword", { username: "porter", password: "short" }, admin)).toMatchObject({
      status: 400,
    });
    // One's own password is changed with the current one, not reset.
    expect(await users("ResetPassword", { username: "admin" }, admin)).toMatchObject({
      status: 400,
      body: { code: "failed_precondition" },
    });
    // The generated password is in no audit entry.
    const { rows } = await sql<{ details: unknown }>`
      SELECT details FROM audit_log WHERE action = 'user.password_reset'`.execute(pipeline.database.db);
    expect(JSON.stringify(rows)).not.toContain(password);
    expect(rows).toHaveLength(2);
  });

  it("deletes a user: no sign-in, not listed, name not reused, audit trail kept and the chain still verifies", async () => {
    await register("leaver");
    const session = (await login("leaver", USER_PASSWORD)).body.tokens;
    const admin = await adminToken();
    expect((await users("DeleteUser", { username: "leaver" }, admin)).status).toBe(200);

    expect((await listReadings(session.accessToken)).status).toBe(401);
    expect((await refresh(session.refreshToken)).status).toBe(401);
    expect(await login("leaver", USER_PASSWORD)).toMatchObject({
      status: 401,
      body: { message: "invalid username or password" },
    });
    const all = await users("ListUsers", { pageSize: 1000 }, admin);
    expect(all.body.users.map((u: { username: string }) => u.username)).not.toContain("leaver");
    for (const method of ["EnableUser", "DisableUser", "DeleteUser"]) {
      expect((await users(method, { username: "leaver" }, admin)).status, method).toBe(404);
    }
    const reuse = await call(
      "vigil.auth.v1.AuthService/Register",
      { username: "leaver", password: USER_PASSWORD },
      admin,
    );
    expect(reuse).toMatchObject({ status: 409, body: { code: "already_exists" } });

    const trail = await call("vigil.audit.v1.AuditService/ListAuditLog", { actor: "user:leaver" }, admin);
    expect(trail.body.entries.map((e: { action: string }) => e.action)).toContain("user.login");
    const deletion = await call("vigil.audit.v1.AuditService/ListAuditLog", { action: "user.delete" }, admin);
    expect(deletion.body.entries).toEqual([
      expect.objectContaining({ actor: "user:admin", action: "user.delete", target: "user:leaver" }),
    ]);

    const verify = await runCli(["audit", "verify"], { PATH: process.env.PATH, DATABASE_URL: pipeline.databaseUrl });
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.out).toMatchObject({ ok: true });
  });

  it("pages through users by name and refuses a page size out of bounds", async () => {
    const admin = await adminToken();
    const names: string[] = [];
    let pageToken = "";
    do {
      const page = await users("ListUsers", { pageSize: 2, pageToken }, admin);
      expect(page.status).toBe(200);
      names.push(...page.body.users.map((u: { username: string }) => u.username));
      pageToken = page.body.nextPageToken ?? "";
    } while (pageToken);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["admin", "doctor", "nurse", "porter", "reader", "tech"]));
    expect(new Set(names).size).toBe(names.length);
    expect((await users("ListUsers", { pageSize: 1001 }, admin)).status).toBe(400);
    const techs = await users("ListUsers", { role: "ROLE_TECHNICIAN" }, admin);
    expect(techs.body.users.map((u: { username: string }) => u.username)).toEqual(["tech"]);
  });
});

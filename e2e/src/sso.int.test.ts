import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "@vigil/db";
import type { QueryApp } from "@vigil/query";
import { freePort, type OidcTestProvider, startOidcProvider, TestBrowser } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const CLIENT_ID = "vigil-console";
const CLIENT_SECRET = "test-client-secret-4c1d8e0b7a";
const ROLE_MAP = "vigil-admins=admin,ward-7=clinician,biomed=technician,staff=user";

interface Outcome {
  code?: string;
  error?: string;
}

/**
 * Issue 13's "OIDC sign-in end to end": Vigil signs people in with a real
 * OpenID Connect provider (oidc-provider, OpenID Certified) started here,
 * driven through its login and consent pages over HTTP.
 */
describe("single sign-on with an OpenID Connect provider", () => {
  let pipeline: Pipeline;
  let provider: OidcTestProvider;
  let vigil: string;
  let query: QueryApp;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    const port = await freePort();
    vigil = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider({
      client: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${vigil}/auth/oidc/callback`] },
      accounts: {
        alice: { preferred_username: "alice", email: "alice@hospital.example", groups: ["staff", "ward-7"] },
        bob: { preferred_username: "bob", groups: ["visitors"] },
        carol: { preferred_username: "Carol", groups: ["vigil-admins"] },
        dave: { preferred_username: "dave", groups: ["biomed"] },
        erin: { preferred_username: "erin", groups: ["staff"] },
      },
    });
    const secretFile = join(mkdtempSync(join(tmpdir(), "vigil-sso-")), "client-secret");
    writeFileSync(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
    query = await pipeline.startQuery({
      QUERY_PORT: String(port),
      OIDC_ISSUER_URL: provider.issuer,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET_FILE: secretFile,
      OIDC_REDIRECT_URL: `${vigil}/auth/oidc/callback`,
      OIDC_SCOPES: "openid profile email groups",
      OIDC_ROLE_MAP: ROLE_MAP,
      OIDC_DISPLAY_NAME: "Hospital account",
      // Every test signs in from 127.0.0.1; the limit itself is tested on a replica of its own.
      OIDC_SIGNINS_PER_ADDRESS_PER_MIN: "10000",
    });
    // A local account named like an IdP user, made before that user ever signs in.
    await pipeline.userToken("carol", "user");
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await provider?.stop();
  });

  const atSignIn = (url: URL) => url.pathname === "/sign-in";
  const atCallback = (url: URL) => url.pathname === "/auth/oidc/callback";

  function outcome(url: URL): Outcome {
    const fragment = new URLSearchParams(url.hash.slice(1));
    return {
      ...(fragment.get("sso_code") ? { code: fragment.get("sso_code")! } : {}),
      ...(fragment.get("sso_error") ? { error: fragment.get("sso_error")! } : {}),
    };
  }

  /** The whole browser trip: Vigil → provider (login, consent) → Vigil's callback → the console. */
  async function signIn(login: string, browser = new TestBrowser()): Promise<Outcome> {
    return outcome(await browser.browse(`${vigil}/auth/oidc/login`, { login, password: "any" }, atSignIn));
  }

  // biome-ignore lint/suspicious/noExplicitAny: Connect-JSON answers of several shapes, checked by the assertions
  async function rpc(method: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
    const res = await fetch(`${vigil}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  async function exchange(code: string) {
    return rpc("vigil.auth.v1.SsoService/ExchangeSsoCode", { code });
  }

  async function signInForTokens(login: string) {
    const { code, error } = await signIn(login);
    expect(error).toBeUndefined();
    const res = await exchange(code!);
    expect(res.status).toBe(200);
    return res.body.tokens as {
      accessToken: string;
      refreshToken: string;
      user: { username: string; role: string };
      scopes: string[];
    };
  }

  async function auditActions(
    since: number,
  ): Promise<Array<{ action: string; actor: string; target: string; details: Record<string, unknown> }>> {
    const rows = await sql<{ action: string; actor: string; target: string; details: Record<string, unknown> }>`
      SELECT action, actor, target, details FROM audit_log WHERE id > ${since} ORDER BY id`.execute(
      pipeline.database.db,
    );
    return rows.rows;
  }

  async function lastAuditId(): Promise<number> {
    const row = await sql<{ id: number }>`SELECT coalesce(max(id), 0)::int AS id FROM audit_log`.execute(
      pipeline.database.db,
    );
    return row.rows[0]!.id;
  }

  it("tells the console whether single sign-on is on, and nothing more", async () => {
    const on = await rpc("vigil.auth.v1.SsoService/GetSsoConfig", {});
    expect(on).toEqual({
      status: 200,
      body: { enabled: true, displayName: "Hospital account", loginPath: "/auth/oidc/login" },
    });
    const off = await fetch(`${pipeline.queryUrl}/vigil.auth.v1.SsoService/GetSsoConfig`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(await off.json()).toEqual({});
    const login = await fetch(`${pipeline.queryUrl}/auth/oidc/login`, { redirect: "manual" });
    expect(login.status).not.toBe(303);
  });

  it("signs in with PKCE, state and nonce, and gives Vigil tokens that work on the API", async () => {
    const browser = new TestBrowser();
    const start = await browser.request(`${vigil}/auth/oidc/login`);
    expect(start.status).toBe(303);
    const authorize = new URL(start.headers.get("location")!);
    expect(authorize.origin).toBe(provider.issuer);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get("state")).toBeTruthy();
    expect(authorize.searchParams.get("nonce")).toBeTruthy();
    expect(authorize.searchParams.get("client_id")).toBe(CLIENT_ID);
    expect(authorize.searchParams.get("client_secret")).toBeNull();
    const cookie = start.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);

    const since = await lastAuditId();
    const end = await browser.browse(authorize.href, { login: "alice", password: "any" }, atSignIn);
    const { code } = outcome(end);
    expect(code).toMatch(/^vsc_/);
    // Nothing but the one-minute code reaches the console's URL, and only in the fragment.
    expect(end.search).toBe("");
    const res = await exchange(code!);
    expect(res.status).toBe(200);
    const tokens = res.body.tokens;
    expect(tokens.user).toMatchObject({ username: "alice", role: "ROLE_CLINICIAN" });
    expect(tokens.scopes).toContain("procedures:write");
    const list = await rpc("vigil.readings.v1.ReadingService/ListReadings", {}, tokens.accessToken);
    expect(list.status).toBe(200);
    // The refresh token is an ordinary Vigil one.
    const refreshed = await rpc("vigil.auth.v1.AuthService/Refresh", { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    const actions = await auditActions(since);
    // The SSO user's read is in the access log under their name, like anyone's.
    expect(actions.map((a) => a.action)).toEqual(["user.create", "user.sso_login", "readings.list"]);
    expect(actions[0]!.details).toMatchObject({ role: "clinician", issuer: `${provider.issuer}` });
    expect(actions[2]!.actor).toBe("user:alice");
  });

  it("maps groups to roles in configured order, and re-evaluates the role at every sign-in", async () => {
    expect((await signInForTokens("dave")).user.role).toBe("ROLE_TECHNICIAN");
    expect((await signInForTokens("erin")).user.role).toBe("ROLE_USER");
    const before = await signInForTokens("erin");
    provider.setAccount("erin", { preferred_username: "erin", groups: ["staff", "vigil-admins"] });
    const after = await signInForTokens("erin");
    expect(after.user).toMatchObject({ username: "erin", role: "ROLE_ADMIN" });
    // The tokens signed with the old role stop working at once.
    const old = await rpc("vigil.readings.v1.ReadingService/ListReadings", {}, before.accessToken);
    expect(old.status).toBe(401);
    const audit = await rpc("vigil.audit.v1.AuditService/ListAuditLog", {}, after.accessToken);
    expect(audit.status).toBe(200);
    // Dropped from the admin group: back to a plain user, and the admin token ends.
    provider.setAccount("erin", { preferred_username: "erin", groups: ["staff"] });
    const demoted = await signInForTokens("erin");
    expect(demoted.user.role).toBe("ROLE_USER");
    expect((await rpc("vigil.audit.v1.AuditService/ListAuditLog", {}, after.accessToken)).status).toBe(401);
    expect((await rpc("vigil.audit.v1.AuditService/ListAuditLog", {}, demoted.accessToken)).status).toBe(403);
  });

  it("refuses an ID token altered on its way from the provider (its signature is checked with the JWKS)", async () => {
    const since = await lastAuditId();
    provider.tamperIdTokens((jwt) => {
      const [header, payload, signature] = jwt.split(".");
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
      const forged = Buffer.from(JSON.stringify({ ...claims, groups: ["vigil-admins"] })).toString("base64url");
      return `${header}.${forged}.${signature}`;
    });
    try {
      expect(await signIn("bob")).toEqual({ error: "failed" });
    } finally {
      provider.tamperIdTokens(undefined);
    }
    const actions = await auditActions(since);
    expect(actions).toEqual([
      expect.objectContaining({
        action: "user.sso_login_failed",
        details: expect.objectContaining({ reason: "failed" }),
      }),
    ]);
    // Untouched, the same user is still refused for what the provider really says (no role).
    expect(await signIn("bob")).toEqual({ error: "unmapped" });
  });

  async function ssoMetric(outcome: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${query.opsPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`vigil_query_sso_signins_total{outcome="${outcome}"}`));
    return line ? Number(line.split(" ").pop()) : 0;
  }

  it("refuses a user whose groups map to no role, saying why, and audits and counts it", async () => {
    const before = await ssoMetric("unmapped");
    const since = await lastAuditId();
    expect(await signIn("bob")).toEqual({ error: "unmapped" });
    expect(await ssoMetric("unmapped")).toBe(before + 1);
    const users = await sql<{ n: number }>`SELECT count(*)::int AS n FROM users WHERE username = 'bob'`.execute(
      pipeline.database.db,
    );
    expect(users.rows[0]!.n).toBe(0);
    const actions = await auditActions(since);
    expect(actions).toEqual([
      expect.objectContaining({
        action: "user.sso_login_failed",
        details: expect.objectContaining({ reason: "unmapped" }),
      }),
    ]);
  });

  it("refuses a tampered state, and a callback in another browser (login CSRF), without spending the real one", async () => {
    const browser = new TestBrowser();
    const callback = await browser.browse(`${vigil}/auth/oidc/login`, { login: "alice", password: "any" }, atCallback);
    const tampered = new URL(callback);
    tampered.searchParams.set("state", `${callback.searchParams.get("state")}x`);
    const refused = await browser.request(tampered.href);
    expect(outcome(new URL(refused.headers.get("location")!))).toEqual({ error: "expired" });

    // The victim's browser does not hold the attacker's state cookie.
    const victim = new TestBrowser();
    const csrf = await victim.request(callback.href);
    expect(outcome(new URL(csrf.headers.get("location")!))).toEqual({ error: "expired" });

    // The browser that started it still finishes (the refusals spent nothing) — once.
    const done = await browser.request(callback.href);
    expect(outcome(new URL(done.headers.get("location")!)).code).toMatch(/^vsc_/);
  });

  it("refuses a replayed callback and a replayed sign-in code", async () => {
    const browser = new TestBrowser();
    const callback = await browser.browse(`${vigil}/auth/oidc/login`, { login: "alice", password: "any" }, atCallback);
    const state = browser.cookie("vigil-sso");
    const first = await browser.request(callback.href);
    const { code } = outcome(new URL(first.headers.get("location")!));
    expect(code).toBeDefined();
    // Replayed, even with the state cookie put back: the pending sign-in was used.
    const replay = await fetch(callback, { redirect: "manual", headers: { cookie: `vigil-sso=${state}` } });
    expect(outcome(new URL(replay.headers.get("location")!))).toEqual({ error: "expired" });

    expect((await exchange(code!)).status).toBe(200);
    const again = await exchange(code!);
    expect(again.status).toBe(401);
    expect((await exchange("vsc_made-up")).status).toBe(401);
  });

  it("never lets an IdP user take over a local account of the same name", async () => {
    const tokens = await signInForTokens("carol");
    expect(tokens.user.username).toMatch(/^carol\.sso-[0-9a-f]{8}$/);
    expect(tokens.user.role).toBe("ROLE_ADMIN");
    // The local carol is untouched: same role, same password, her own account.
    const local = await pipeline.login("carol", USER_PASSWORD);
    const me = await rpc("vigil.audit.v1.AuditService/ListAuditLog", {}, local.accessToken);
    expect(me.status).toBe(403);
    const rows = await sql<{ username: string; role: string; linked: number }>`
      SELECT u.username, u.role, count(i.id)::int AS linked FROM users u LEFT JOIN user_identities i ON i.user_id = u.id
      WHERE u.username LIKE 'carol%' GROUP BY u.username, u.role ORDER BY u.username`.execute(pipeline.database.db);
    expect(rows.rows).toEqual([
      { username: "carol", role: "user", linked: 0 },
      { username: tokens.user.username, role: "admin", linked: 1 },
    ]);
    // Signing in again finds the same linked user, by (issuer, subject).
    expect((await signInForTokens("carol")).user.username).toBe(tokens.user.username);
    // The SSO user has no password anyone knows.
    const attempt = await rpc("vigil.auth.v1.AuthService/Login", { username: tokens.user.username, password: "any" });
    expect(attempt.status).toBe(401);
  });

  it("refuses a disabled user", async () => {
    const tokens = await signInForTokens("dave");
    await sql`UPDATE users SET disabled_at = now() WHERE username = ${tokens.user.username}`.execute(
      pipeline.database.db,
    );
    const since = await lastAuditId();
    expect(await signIn("dave")).toEqual({ error: "disabled" });
    expect((await auditActions(since)).map((a) => a.action)).toEqual(["user.sso_login_refused"]);
    // A code issued just before the account was disabled is refused at the exchange too.
    await sql`UPDATE users SET disabled_at = NULL WHERE username = ${tokens.user.username}`.execute(
      pipeline.database.db,
    );
    const { code } = await signIn("dave");
    await sql`UPDATE users SET disabled_at = now() WHERE username = ${tokens.user.username}`.execute(
      pipeline.database.db,
    );
    expect((await exchange(code!)).status).toBe(401);
  });

  it("bounds what an anonymous client can start: pending sign-ins, rate per address, callback size", async () => {
    const pending = await sql<{ n: number }>`SELECT count(*)::int AS n FROM oidc_pending_signins`.execute(
      pipeline.database.db,
    );
    const port = await freePort();
    const bounded = `http://127.0.0.1:${port}`;
    await pipeline.startQuery({
      QUERY_PORT: String(port),
      OIDC_ISSUER_URL: provider.issuer,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      OIDC_REDIRECT_URL: `${bounded}/auth/oidc/callback`,
      OIDC_ROLE_MAP: ROLE_MAP,
      OIDC_MAX_PENDING_SIGNINS: String(pending.rows[0]!.n + 2),
      OIDC_SIGNINS_PER_ADDRESS_PER_MIN: "4",
    });
    const starts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${bounded}/auth/oidc/login`, { redirect: "manual" });
      const location = res.headers.get("location");
      starts.push(res.status === 429 ? "429" : location!.startsWith(provider.issuer) ? "provider" : location!);
    }
    expect(starts).toEqual([
      "provider",
      "provider",
      `${bounded}/sign-in#sso_error=busy`,
      `${bounded}/sign-in#sso_error=busy`,
      "429",
    ]);
    const huge = await fetch(`${vigil}/auth/oidc/callback?state=${"a".repeat(5_000)}`, { redirect: "manual" });
    expect(huge.status).toBe(414);
    const post = await fetch(`${vigil}/auth/oidc/login`, { method: "POST", redirect: "manual" });
    expect(post.status).toBe(405);
  });

  it("starts while the provider is down, and tells the user it cannot be reached", async () => {
    const port = await freePort();
    const down = `http://127.0.0.1:${port}`;
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    await pipeline.startQuery({
      QUERY_PORT: String(port),
      OIDC_ISSUER_URL: nowhere,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      OIDC_REDIRECT_URL: `${down}/auth/oidc/callback`,
      OIDC_ROLE_MAP: ROLE_MAP,
    });
    const res = await fetch(`${down}/auth/oidc/login`, { redirect: "manual" });
    expect(res.headers.get("location")).toBe(`${down}/sign-in#sso_error=unavailable`);
    expect(res.headers.get("set-cookie")).toBeNull();
    // Password sign-in on the same replica is unaffected.
    const local = await fetch(`${down}/vigil.auth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "carol", password: USER_PASSWORD }),
    });
    expect(local.status).toBe(200);
  });

  it("keeps the client secret, codes and tokens out of the query service's answers", async () => {
    const config = await rpc("vigil.auth.v1.SsoService/GetSsoConfig", {});
    expect(JSON.stringify(config.body)).not.toContain(CLIENT_SECRET);
    expect(JSON.stringify(config.body)).not.toContain(CLIENT_ID);
    expect(query.port).toBeGreaterThan(0);
  });
});

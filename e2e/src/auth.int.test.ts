import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "@vigil/db";
import { TokenSigner } from "@vigil/query";
import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/** Calls a Connect-JSON method with plain fetch, as a browser does. */
async function call(pipeline: Pipeline, method: string, body: unknown, token?: string) {
  const res = await fetch(`${pipeline.queryUrl}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, checked by the assertions
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

describe("users and access", () => {
  let pipeline: Pipeline;
  let signingKey: Awaited<ReturnType<typeof TokenSigner.generateJwk>>;

  beforeAll(async () => {
    signingKey = await TokenSigner.generateJwk();
    pipeline = await startTestPipeline({
      env: {
        AUTH_JWT_KEYS: JSON.stringify({ keys: [signingKey] }),
        // The admin signs in five times in this file; "target" is pushed past the limit.
        AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN: "7",
        QUERY_USER_REQUESTS_PER_MIN: "600",
      },
    });
  });
  afterAll(() => pipeline?.stop());

  it("lets only admins register users, and only admins create admins", async () => {
    const admin = await pipeline.adminToken();
    const anonymous = await call(pipeline, "vigil.auth.v1.AuthService/Register", {
      username: "eve",
      password: USER_PASSWORD,
    });
    expect(anonymous).toMatchObject({ status: 401, body: { code: "unauthenticated" } });
    const made = await call(
      pipeline,
      "vigil.auth.v1.AuthService/Register",
      { username: "Bob", password: USER_PASSWORD },
      admin,
    );
    expect(made.body).toMatchObject({ user: { username: "bob", role: "ROLE_USER" } });
    const bob = (await pipeline.login("bob", USER_PASSWORD)).accessToken;
    const escalation = await call(
      pipeline,
      "vigil.auth.v1.AuthService/Register",
      { username: "mallory", password: USER_PASSWORD, role: "ROLE_ADMIN" },
      bob,
    );
    expect(escalation).toMatchObject({ status: 403, body: { code: "permission_denied" } });
    const weak = await call(
      pipeline,
      "vigil.auth.v1.AuthService/Register",
      { username: "carol", password: "short" },
      admin,
    );
    expect(weak).toMatchObject({ status: 400, body: { message: expect.stringMatching(/password must be 12/) } });
    const twice = await call(
      pipeline,
      "vigil.auth.v1.AuthService/Register",
      { username: "BOB", password: USER_PASSWORD },
      admin,
    );
    expect(twice).toMatchObject({ status: 409, body: { code: "already_exists" } });
  });

  it("signs in with a password, answering the same for unknown users and wrong passwords", async () => {
    const login = await call(pipeline, "vigil.auth.v1.AuthService/Login", {
      username: "admin",
      password: ADMIN_PASSWORD,
    });
    expect(login.body.tokens).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^vrt_/),
      user: { username: "admin", role: "ROLE_ADMIN" },
      scopes: expect.arrayContaining(["readings:delete", "devices:admin", "users:admin"]),
    });
    const wrong = await call(pipeline, "vigil.auth.v1.AuthService/Login", {
      username: "admin",
      password: "nope-nope-nope",
    });
    const unknown = await call(pipeline, "vigil.auth.v1.AuthService/Login", {
      username: "nobody",
      password: "nope-nope-nope",
    });
    expect(wrong).toMatchObject({ status: 401, body: { message: "invalid username or password" } });
    expect(unknown.body).toEqual(wrong.body);
    const { rows } = await sql<{
      password_hash: string;
    }>`SELECT password_hash FROM users WHERE username = 'admin'`.execute(pipeline.database.db);
    expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it("enforces scopes: Unauthenticated without a token, PermissionDenied without the scope", async () => {
    const user = await pipeline.userToken("reader");
    expect(await call(pipeline, "vigil.readings.v1.ReadingService/ListReadings", {})).toMatchObject({ status: 401 });
    expect(await call(pipeline, "vigil.readings.v1.ReadingService/ListReadings", {}, user)).toMatchObject({
      status: 200,
    });
    const del = await call(
      pipeline,
      "vigil.readings.v1.ReadingService/DeleteReadings",
      { filter: { deviceCode: "OR" } },
      user,
    );
    expect(del).toMatchObject({
      status: 403,
      body: { code: "permission_denied", message: expect.stringMatching(/readings:delete/) },
    });
    expect(await call(pipeline, "vigil.audit.v1.AuditService/ListAuditLog", {}, user)).toMatchObject({ status: 403 });
    expect(await call(pipeline, "vigil.devices.v1.DeviceService/ListDevices", {}, user)).toMatchObject({ status: 403 });
  });

  it("refuses expired, tampered, alg none, wrong-kid and wrongly signed tokens", async () => {
    const good = await pipeline.adminToken();
    const list = (token: string) => call(pipeline, "vigil.readings.v1.ReadingService/ListReadings", {}, token);
    expect((await list(good)).status).toBe(200);
    const signer = await TokenSigner.create(JSON.stringify({ keys: [signingKey] }));
    const claims = { userId: 1, username: "admin", role: "admin", scopes: ["readings:read"], tokenVersion: 0 };
    const expired = (await signer.sign(claims, -60_000)).token;
    const [h, p, s] = good.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: "999" })).toString("base64url")}.${s}`;
    const none = new UnsecuredJWT({ username: "admin", scope: "readings:read" })
      .setSubject("1")
      .setIssuer("vigil")
      .setAudience("vigil-api")
      .setIssuedAt()
      .setExpirationTime("1h")
      .encode();
    const other = await TokenSigner.create(undefined);
    const foreign = (await other.sign(claims, 60_000)).token;
    const wrongKid = await new SignJWT({ username: "admin", scope: "readings:read" })
      .setProtectedHeader({ alg: "EdDSA", kid: "not-our-key" })
      .setSubject("1")
      .setIssuer("vigil")
      .setAudience("vigil-api")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(await (await import("jose")).importJWK(signingKey, "EdDSA"));
    for (const [name, token] of Object.entries({ expired, tampered, none, foreign, wrongKid, garbage: "a.b.c" })) {
      const r = await list(token);
      expect(r.status, name).toBe(401);
      expect(r.body.message, name).toMatch(/invalid or expired/);
    }
  });

  it("rotates refresh tokens: each works once, and reusing a spent one revokes the whole sign-in", async () => {
    const first = await pipeline.login("admin", ADMIN_PASSWORD);
    const refresh = (token: string) => call(pipeline, "vigil.auth.v1.AuthService/Refresh", { refreshToken: token });
    const second = await refresh(first.refreshToken);
    expect(second.status).toBe(200);
    const next = second.body.tokens.refreshToken as string;
    expect(next).not.toBe(first.refreshToken);
    const reuse = await refresh(first.refreshToken);
    expect(reuse).toMatchObject({ status: 401, body: { message: expect.stringMatching(/already used/) } });
    // The thief's reuse revoked the family: the legitimate next token is dead too.
    expect((await refresh(next)).status).toBe(401);
    const { rows } = await sql<{
      action: string;
    }>`SELECT action FROM audit_log WHERE action = 'refresh_token.reuse'`.execute(pipeline.database.db);
    expect(rows).toHaveLength(1);
  });

  it("logs out: the refresh token and its family stop working", async () => {
    // Not the admin: signing out ends every access token of the user, the pipeline's cached one too.
    await pipeline.userToken("leaver");
    const tokens = await pipeline.login("leaver", USER_PASSWORD);
    expect(
      (await call(pipeline, "vigil.auth.v1.AuthService/Logout", { refreshToken: tokens.refreshToken })).status,
    ).toBe(200);
    expect(
      (await call(pipeline, "vigil.auth.v1.AuthService/Refresh", { refreshToken: tokens.refreshToken })).status,
    ).toBe(401);
  });

  it("limits failed sign-ins per username from one address, with a retry hint", async () => {
    await call(
      pipeline,
      "vigil.auth.v1.AuthService/Register",
      { username: "target", password: USER_PASSWORD },
      await pipeline.adminToken(),
    );
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 12 && !limited; i++) {
      const r = await call(pipeline, "vigil.auth.v1.AuthService/Login", {
        username: "target",
        password: "wrong-password-123",
      });
      if (r.status === 429) limited = r;
    }
    expect(limited?.body).toMatchObject({
      code: "resource_exhausted",
      message: expect.stringMatching(/retry in \d+ s/),
    });
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
    // Even the right password waits until the bucket refills.
    const right = await call(pipeline, "vigil.auth.v1.AuthService/Login", {
      username: "target",
      password: USER_PASSWORD,
    });
    expect(right.status).toBe(429);
  });

  it("limits each user's request rate with ResourceExhausted and a retry hint, over gRPC too", async () => {
    const token = await pipeline.userToken("busy");
    const transport = createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "2",
      interceptors: [
        (next) => async (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    const { ReadingService } = await import("@vigil/proto");
    const client = createClient(ReadingService, transport);
    const results = await Promise.all(
      Array.from({ length: 80 }, () =>
        client.listReadings({}).then(
          () => "ok",
          (e) => String(e),
        ),
      ),
    );
    expect(results.filter((r) => r === "ok").length).toBeGreaterThanOrEqual(50);
    expect(results.some((r) => /resource_exhausted.*retry in/.test(r))).toBe(true);
  });
});

import http from "node:http";
import { sql } from "@vigil/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/** Connect-JSON over HTTP/1.1 from a chosen local address (127.0.0.0/8 is all loopback on Linux). */
function post(
  url: string,
  body: unknown,
  options: { from?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(url, {
      method: "POST",
      localAddress: options.from ?? "127.0.0.1",
      agent: false,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload), ...options.headers },
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || "{}") }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

describe("signing in", () => {
  let pipeline: Pipeline;
  let login: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      env: {
        AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN: "5",
        AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN: "8",
      },
    });
    login = `${pipeline.queryUrl}/vigil.auth.v1.AuthService/Login`;
    for (const name of ["victim", "proxied", "spoofer"]) await pipeline.userToken(name);
  });
  afterAll(() => pipeline?.stop());

  it("item 7: wrong passwords from one address do not lock the user out from another", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push(
        (await post(login, { username: "victim", password: "wrong-password-1" }, { from: "127.0.0.2" })).status,
      );
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // The attacker's address is held back for this user; the user, elsewhere, is not.
    const own = await post(login, { username: "victim", password: USER_PASSWORD }, { from: "127.0.0.3" });
    expect(own.status).toBe(200);
    const attacker = await post(login, { username: "victim", password: USER_PASSWORD }, { from: "127.0.0.2" });
    expect(attacker.status).toBe(429);
  });

  it("item 7: successful sign-ins cost nothing, so people sharing an address are not held back by each other", async () => {
    for (let i = 0; i < 12; i++) {
      const ok = await post(login, { username: "victim", password: USER_PASSWORD }, { from: "127.0.0.4" });
      expect(ok.status).toBe(200);
    }
  });

  it("item 7: X-Forwarded-For names the client only behind a trusted proxy", async () => {
    const proxied = await pipeline.startQuery({ QUERY_TRUSTED_PROXIES: "127.0.0.1/32" });
    const url = `http://127.0.0.1:${proxied.port}/vigil.auth.v1.AuthService/Login`;
    // Behind the proxy (127.0.0.1), each client has its own buckets; the rightmost address not
    // itself a proxy counts, whatever the client wrote further left.
    for (let i = 0; i < 5; i++) {
      await post(
        url,
        { username: "proxied", password: "wrong-password-1" },
        {
          headers: { "x-forwarded-for": `198.51.100.${i}, 203.0.113.5` },
        },
      );
    }
    const blocked = await post(
      url,
      { username: "proxied", password: USER_PASSWORD },
      {
        headers: { "x-forwarded-for": "203.0.113.5" },
      },
    );
    expect(blocked.status).toBe(429);
    const other = await post(
      url,
      { username: "proxied", password: USER_PASSWORD },
      {
        headers: { "x-forwarded-for": "203.0.113.6" },
      },
    );
    expect(other.status).toBe(200);
    const { rows } = await sql<{ details: { address: string } }>`
      SELECT details FROM audit_log WHERE action = 'user.login' AND target = 'user:proxied'`.execute(
      pipeline.database.db,
    );
    // The first sign-in is the test's own, directly; the second came through the proxy.
    expect(rows.map((r) => r.details.address)).toEqual(["127.0.0.1", "203.0.113.6"]);

    // From an address that is not a trusted proxy the header is ignored: rotating it does not
    // give an attacker fresh buckets.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await post(
        url,
        { username: "spoofer", password: "wrong-password-1" },
        {
          from: "127.0.0.5",
          headers: { "x-forwarded-for": `192.0.2.${i}` },
        },
      );
      statuses.push(r.status);
    }
    expect(statuses.slice(5)).toEqual([429, 429]);
  });

  it("item 16: open registration is throttled per address and answers the same whether or not the name is taken", async () => {
    const open = await pipeline.startQuery({
      AUTH_OPEN_REGISTRATION: "true",
      AUTH_REGISTRATIONS_PER_ADDRESS_PER_HOUR: "3",
    });
    const register = `http://127.0.0.1:${open.port}/vigil.auth.v1.AuthService/Register`;
    const fresh = await post(register, { username: "newbie", password: USER_PASSWORD }, { from: "127.0.0.6" });
    const taken = await post(register, { username: "Victim", password: "another-password-42" }, { from: "127.0.0.6" });
    const shape = (r: typeof fresh) => ({ ...r, body: { user: { ...(r.body.user as object), createTime: "…" } } });
    expect(shape(fresh)).toEqual({
      status: 200,
      body: { user: { username: "newbie", role: "ROLE_USER", createTime: "…" } },
    });
    expect(shape(taken)).toEqual({
      status: 200,
      body: { user: { username: "victim", role: "ROLE_USER", createTime: "…" } },
    });
    // Nothing about the existing account changed; the new one works.
    expect((await post(login, { username: "victim", password: USER_PASSWORD }, { from: "127.0.0.6" })).status).toBe(
      200,
    );
    expect((await post(login, { username: "newbie", password: USER_PASSWORD }, { from: "127.0.0.6" })).status).toBe(
      200,
    );

    await post(register, { username: "third", password: USER_PASSWORD }, { from: "127.0.0.6" });
    const throttled = await post(register, { username: "fourth", password: USER_PASSWORD }, { from: "127.0.0.6" });
    expect(throttled).toMatchObject({ status: 429, body: { code: "resource_exhausted" } });
    const elsewhere = await post(register, { username: "fourth", password: USER_PASSWORD }, { from: "127.0.0.7" });
    expect(elsewhere.status).toBe(200);
  });

  it("item 12: a refresh token spent twice at once revokes its whole family, successors included", async () => {
    const refresh = `${pipeline.queryUrl}/vigil.auth.v1.AuthService/Refresh`;
    const survivors: string[] = [];
    for (let round = 0; round < 10; round++) {
      const { refreshToken } = await pipeline.login("victim", USER_PASSWORD);
      // The same token presented five times at once: one spends it, the others are reuse.
      const answers = await Promise.all(
        Array.from({ length: 5 }, () =>
          fetch(refresh, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ refreshToken }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { tokens?: { refreshToken: string } } })),
        ),
      );
      expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(1);
      for (const a of answers) {
        const next = a.body.tokens?.refreshToken;
        if (!next) continue;
        const again = await fetch(refresh, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refreshToken: next }),
        });
        if (again.status === 200) survivors.push(next);
      }
    }
    expect(survivors).toEqual([]);
  });

  it("item 17: signing out ends the user's access tokens at once, on every replica", async () => {
    // A replica that would trust a cached version for ten minutes: only the announcement can stop it.
    const other = await pipeline.startQuery({ AUTH_TOKEN_VERSION_CACHE_MS: "600000" });
    const list = (base: string, token: string) =>
      fetch(`${base}/vigil.readings.v1.ReadingService/ListReadings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { message?: string } }));
    const otherUrl = `http://127.0.0.1:${other.port}`;
    const session = await pipeline.login("victim", USER_PASSWORD);
    const laptop = await pipeline.login("victim", USER_PASSWORD);
    expect((await list(pipeline.queryUrl, session.accessToken)).status).toBe(200);
    expect((await list(otherUrl, session.accessToken)).status).toBe(200);

    const out = await fetch(`${pipeline.queryUrl}/vigil.auth.v1.AuthService/Logout`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    expect(out.status).toBe(200);
    expect(await list(pipeline.queryUrl, session.accessToken)).toMatchObject({
      status: 401,
      body: { message: expect.stringMatching(/revoked/) },
    });
    let elsewhere = await list(otherUrl, session.accessToken);
    for (let i = 0; i < 20 && elsewhere.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      elsewhere = await list(otherUrl, session.accessToken);
    }
    expect(elsewhere.status).toBe(401);
    // Another sign-in of the same user goes on after a refresh with its own refresh token.
    expect((await list(otherUrl, laptop.accessToken)).status).toBe(401);
    const refreshed = await fetch(`${otherUrl}/vigil.auth.v1.AuthService/Refresh`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refreshToken: laptop.refreshToken }),
    }).then((r) => r.json() as Promise<{ tokens: { accessToken: string } }>);
    expect((await list(otherUrl, refreshed.tokens.accessToken)).status).toBe(200);
    expect((await list(pipeline.queryUrl, refreshed.tokens.accessToken)).status).toBe(200);
  });

  it("item 17: a version raised or a user disabled without an announcement is refused within AUTH_TOKEN_VERSION_CACHE_MS", async () => {
    const replica = await pipeline.startQuery({ AUTH_TOKEN_VERSION_CACHE_MS: "300" });
    const url = `http://127.0.0.1:${replica.port}/vigil.readings.v1.ReadingService/ListReadings`;
    const list = (token: string) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      }).then((r) => r.status);
    const token = await pipeline.userToken("changing");
    expect(await list(token)).toBe(200);
    const db = pipeline.database.db;
    await sql`UPDATE users SET token_version = token_version + 1 WHERE username = 'changing'`.execute(db);
    await new Promise((r) => setTimeout(r, 400));
    expect(await list(token)).toBe(401);

    const fresh = (await pipeline.login("changing", USER_PASSWORD)).accessToken;
    expect(await list(fresh)).toBe(200);
    await sql`UPDATE users SET disabled_at = now() WHERE username = 'changing'`.execute(db);
    await new Promise((r) => setTimeout(r, 400));
    expect(await list(fresh)).toBe(401);
  });
});

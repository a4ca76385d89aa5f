import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  NATS_COMPONENTS,
  type NatsComponent,
  natsAuthorizationConfig,
  natsSetupOptions,
  natsUser,
  setupJetStream,
} from "@vigil/bus";
import { migrateToLatest, openDatabase } from "@vigil/db";
import {
  createTestDatabase,
  freePort,
  type NatsServer,
  type OidcTestProvider,
  repoRoot,
  type ServiceProcess,
  startNats,
  startOidcProvider,
  startServiceProcess,
  TestBrowser,
} from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ADMIN_PASSWORD, USER_PASSWORD } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";

/** The fields of the replies this test reads. */
interface Reply {
  tokens: { accessToken: string; refreshToken: string };
  apiKey: string;
}

/**
 * Nothing secret in any log line: receiver, writer and query run as
 * processes at LOG_LEVEL=trace while the test signs in, refreshes, creates
 * and rotates device keys, streams with good and bad keys, and fails a
 * sign-in; then every line they (and the CLI) printed is searched for each
 * secret.
 */
describe("secrets in logs", () => {
  let nats: NatsServer;
  let provider: OidcTestProvider;
  const OIDC_CLIENT_SECRET = "oidc-client-secret-never-logged";
  let env: Record<string, string>;
  let queryUrl = "";
  let receiverPort = 0;
  const services: ServiceProcess[] = [];
  const secrets = new Map<string, string>();
  let cliOutput = "";

  const DB_PASSWORD = "db-password-never-logged";
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "logs-test", alg: "EdDSA" };

  // Each service on its own NATS user, its password in a file: neither may appear in a log.
  const natsPasswords = Object.fromEntries(
    NATS_COMPONENTS.map((c) => [c, `nats-${c}-password-never-logged`]),
  ) as Record<NatsComponent, string>;

  beforeAll(async () => {
    nats = await startNats({
      extraConfig: natsAuthorizationConfig(
        "vigil-writer",
        Object.fromEntries(NATS_COMPONENTS.map((c) => [c, { literal: natsPasswords[c] }])),
      ),
    });
    const dir = await mkdtemp(join(tmpdir(), "vigil-logs-nats-"));
    const natsEnv = async (c: NatsComponent) => {
      const file = join(dir, c);
      await writeFile(file, natsPasswords[c], { mode: 0o600 });
      secrets.set(`NATS password of ${c}`, natsPasswords[c]);
      return { NATS_USER: natsUser(c), NATS_PASSWORD_FILE: file, NATS_MANAGE_STREAMS: "false" };
    };
    await setupJetStream(natsSetupOptions({ NATS_URL: nats.url, ...(await natsEnv("admin")) }, false));
    const url = new URL(await createTestDatabase(inject("postgresUrl")));
    // The test server trusts loopback, so the password is only there to be leaked, or not.
    url.password = DB_PASSWORD;
    const database = await openDatabase(url.href);
    await migrateToLatest(database.db);
    await database.close();
    receiverPort = await freePort();
    const queryPort = await freePort();
    queryUrl = `http://127.0.0.1:${queryPort}`;
    // Single sign-on against a real provider: its client secret, codes and tokens are secrets too.
    provider = await startOidcProvider({
      client: {
        clientId: "vigil",
        clientSecret: OIDC_CLIENT_SECRET,
        redirectUris: [`${queryUrl}/auth/oidc/callback`],
      },
      accounts: {
        "sso.nurse": { preferred_username: "sso.nurse", groups: ["staff"] },
        stranger: { preferred_username: "stranger", groups: [] },
      },
    });
    const secretFile = join(await mkdtemp(join(tmpdir(), "vigil-logs-oidc-")), "client-secret");
    await writeFile(secretFile, OIDC_CLIENT_SECRET, { mode: 0o600 });
    env = {
      DATABASE_URL: url.href,
      NATS_URL: nats.url,
      LOG_LEVEL: "trace",
      RECEIVER_HOST: "127.0.0.1",
      RECEIVER_PORT: String(receiverPort),
      RECEIVER_OPS_PORT: "0",
      WRITER_OPS_HOST: "127.0.0.1",
      WRITER_OPS_PORT: "0",
      QUERY_HOST: "127.0.0.1",
      QUERY_PORT: String(queryPort),
      QUERY_OPS_PORT: "0",
      AUTH_JWT_KEYS: JSON.stringify({ keys: [jwk] }),
      AUTH_BOOTSTRAP_ADMIN_USERNAME: "admin",
      AUTH_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
      OIDC_ISSUER_URL: provider.issuer,
      OIDC_CLIENT_ID: "vigil",
      OIDC_CLIENT_SECRET_FILE: secretFile,
      OIDC_REDIRECT_URL: `${queryUrl}/auth/oidc/callback`,
      OIDC_SCOPES: "openid profile groups",
      OIDC_ROLE_MAP: "staff=user",
    };
    secrets.set("database password", DB_PASSWORD);
    secrets.set("JWT signing key", jwk.d!);
    secrets.set("admin password", ADMIN_PASSWORD);
    secrets.set("user password", USER_PASSWORD);
    secrets.set("OIDC client secret", OIDC_CLIENT_SECRET);
    services.push(
      await startServiceProcess(
        "services/receiver/src/main.ts",
        { ...env, ...(await natsEnv("receiver")) },
        /receiver listening/,
      ),
      await startServiceProcess(
        "services/writer/src/main.ts",
        { ...env, ...(await natsEnv("writer")) },
        /writer consuming/,
      ),
      await startServiceProcess(
        "services/query/src/main.ts",
        { ...env, ...(await natsEnv("query")) },
        /query service listening/,
      ),
    );
  });

  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => {});
    await nats?.destroy();
    await provider?.stop();
  });

  async function call(method: string, body: unknown, token?: string) {
    const res = await fetch(`${queryUrl}/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Reply };
  }

  it("exercises every path that handles a secret", async () => {
    // The CLI signs in (password on stdin), then registers a device over the API.
    const cliEnv = {
      ...process.env,
      XDG_CONFIG_HOME: await mkdtemp(join(tmpdir(), "vigil-logs-cli-")),
      VIGIL_SERVER: queryUrl,
    };
    const vigil = (args: string[], input = "") =>
      new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          [join(repoRoot, "packages/cli/src/main.ts"), ...args],
          { env: cliEnv },
          (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
        );
        child.stdin?.end(input);
      });
    const login = await vigil(["login", "--username", "admin"], ADMIN_PASSWORD);
    const cli = await vigil(["devices", "create", "--code", "SEC", "--number", "1"]);
    cliOutput = login.stderr + cli.stderr;
    const cliKey: string = JSON.parse(cli.stdout)[0].apiKey;
    expect(cliKey).toMatch(/^vgl_/);
    secrets.set("device key from the CLI", cliKey);

    const admin = await call("vigil.auth.v1.AuthService/Login", { username: "admin", password: ADMIN_PASSWORD });
    expect(admin.status).toBe(200);
    const adminToken: string = admin.body.tokens.accessToken;
    secrets.set("admin access token", adminToken);
    secrets.set("admin refresh token", admin.body.tokens.refreshToken);

    const wrong = await call("vigil.auth.v1.AuthService/Login", { username: "admin", password: "wrong-password-x1" });
    expect(wrong.status).toBe(401);
    secrets.set("a mistyped password", "wrong-password-x1");

    expect(
      (
        await call(
          "vigil.auth.v1.AuthService/Register",
          { username: "nurse", password: USER_PASSWORD, role: "ROLE_USER" },
          adminToken,
        )
      ).status,
    ).toBe(200);
    const user = await call("vigil.auth.v1.AuthService/Login", { username: "nurse", password: USER_PASSWORD });
    const refreshed = await call("vigil.auth.v1.AuthService/Refresh", { refreshToken: user.body.tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    secrets.set("user refresh token", user.body.tokens.refreshToken);
    secrets.set("rotated refresh token", refreshed.body.tokens.refreshToken);
    secrets.set("user access token", refreshed.body.tokens.accessToken);
    // A reused refresh token is refused (and its family revoked): the refusal is logged, the token not.
    expect(
      (await call("vigil.auth.v1.AuthService/Refresh", { refreshToken: user.body.tokens.refreshToken })).status,
    ).toBe(401);

    const created = await call("vigil.devices.v1.DeviceService/CreateDevice", { code: "SEC", number: 2 }, adminToken);
    expect(created.status).toBe(200);
    const rotated = await call(
      "vigil.devices.v1.DeviceService/RotateDeviceKey",
      { code: "SEC", number: 2 },
      adminToken,
    );
    expect(rotated.status).toBe(200);
    secrets.set("device key from the API", created.body.apiKey);
    secrets.set("rotated device key", rotated.body.apiKey);

    // A device streams with its key; another tries a key that does not exist.
    const stream = openRawStream(receiverPort, rotated.body.apiKey);
    stream.hello();
    expect((await stream.next()).kind.case).toBe("welcome");
    stream.batch(testBatch(1, [Date.now() - 1000], [36.6]));
    expect((await stream.next()).kind.case).toBe("ack");
    stream.end();
    await stream.status;
    // Single sign-on: the provider's code and state, the state cookie, the console's code, the tokens;
    // and two refusals (a tampered state, a user with no role), which are logged.
    const browser = new TestBrowser();
    const atCallback = (u: URL) => u.pathname === "/auth/oidc/callback";
    const callback = await browser.browse(
      `${queryUrl}/auth/oidc/login`,
      { login: "sso.nurse", password: "x" },
      atCallback,
    );
    secrets.set("provider's authorization code", callback.searchParams.get("code")!);
    secrets.set("OIDC state", callback.searchParams.get("state")!);
    const tampered = new URL(callback);
    tampered.searchParams.set("state", "tampered-state");
    expect((await browser.request(tampered.href)).headers.get("location")).toMatch(/sso_error=expired/);
    const back = new URL((await browser.request(callback.href)).headers.get("location")!);
    const ssoCode = new URLSearchParams(back.hash.slice(1)).get("sso_code")!;
    expect(ssoCode).toMatch(/^vsc_/);
    secrets.set("SSO sign-in code", ssoCode);
    const sso = await call("vigil.auth.v1.SsoService/ExchangeSsoCode", { code: ssoCode });
    expect(sso.status).toBe(200);
    secrets.set("SSO access token", sso.body.tokens.accessToken);
    secrets.set("SSO refresh token", sso.body.tokens.refreshToken);
    expect((await call("vigil.auth.v1.SsoService/ExchangeSsoCode", { code: ssoCode })).status).toBe(401);
    const stranger = await new TestBrowser().browse(
      `${queryUrl}/auth/oidc/login`,
      { login: "stranger", password: "x" },
      (u) => u.pathname === "/sign-in",
    );
    expect(stranger.hash).toBe("#sso_error=unmapped");

    const forged = `${cliKey.slice(0, -6)}XXXXXX`;
    secrets.set("a forged device key", forged);
    const refused = openRawStream(receiverPort, forged);
    refused.hello();
    expect((await refused.status).details).toMatch(/key/i);
  });

  it("finds none of them in any service's output", async () => {
    for (const s of services) await s.stop();
    const outputs = {
      receiver: services[0]!.output(),
      writer: services[1]!.output(),
      query: services[2]!.output(),
      cli: cliOutput,
    };
    // The logs are there and verbose: the search below is not vacuous.
    expect(outputs.query).toMatch(/"level":"(trace|debug)"/);
    expect(outputs.receiver).toMatch(/"level":"(trace|debug)"/);
    expect(outputs.query.split("\n").length).toBeGreaterThan(10);
    expect(secrets.size).toBeGreaterThan(12);
    for (const [service, output] of Object.entries(outputs))
      for (const [what, secret] of secrets)
        expect(output.includes(secret), `${what} in the ${service}'s logs`).toBe(false);
  });
});

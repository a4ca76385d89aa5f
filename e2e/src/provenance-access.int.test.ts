import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { verifyAuditChain } from "@vigil/db";
import { apiKeyPrefix } from "@vigil/devices";
import { AuditService, AuthService, DeviceService, ReadingService, Role } from "@vigil/proto";
import { waitFor } from "@vigil/testkit";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueDeviceCertificate,
  issueServerCertificate,
} from "@vigil/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "vigil-provenance-"));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/**
 * Issue 13's audit items against the real pipeline (TLS, device
 * certificates, each component on its own database role): every stored
 * reading records the credential that sent it and the receiver that took it,
 * shown to admins only; reads of readings and stats, failed sign-ins and
 * sign-outs are in the audit log, whose chain still verifies.
 */
describe("provenance and access logging", () => {
  let pipeline: Pipeline;
  let deviceCa: CertificateAuthority;
  let serverCaFile: string;
  let ca: Buffer;
  const start = Date.now() - 60_000;

  const transport = (token?: string) => {
    const auth: Interceptor = (next) => (req) => {
      if (token) req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    return createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "1.1",
      nodeOptions: { ca },
      interceptors: [auth],
    });
  };
  const auth = () => createClient(AuthService, transport());
  const as = <S extends Parameters<typeof createClient>[0]>(service: S, token: string): Client<S> =>
    createClient(service, transport(token));
  let adminToken = "";
  let userToken = "";
  let keyPrefix = "";
  let certificate: { fingerprint: string; serial: string };

  /** Sends one batch on a fresh stream and waits for its ack. */
  async function sendOne(apiKey: string | undefined, cert: { certFile: string; keyFile: string } | undefined) {
    const stream = openRawStream(pipeline.receiver.port, apiKey, {
      caFile: serverCaFile,
      serverName: "localhost",
      ...(cert ?? {}),
    });
    stream.hello();
    expect((await stream.next()).kind.case).toBe("welcome");
    stream.batch(testBatch(1, [start, start + 1_000, start + 2_000], [1, 2, 3]));
    expect((await stream.next()).kind.case).toBe("ack");
    stream.end();
    await stream.status;
  }

  beforeAll(async () => {
    const serverCa = await createCertificateAuthority();
    deviceCa = await createCertificateAuthority({ name: "Vigil device CA" });
    const server = await issueServerCertificate(["localhost", "127.0.0.1"], { ca: serverCa });
    serverCaFile = file("server-ca.pem", serverCa.cert);
    ca = readFileSync(serverCaFile);
    pipeline = await startTestPipeline({
      componentRoles: true,
      env: {
        TLS_CERT_FILE: file("server.pem", server.cert),
        TLS_KEY_FILE: file("server-key.pem", server.key),
        RECEIVER_CLIENT_CA_FILE: file("device-ca.pem", deviceCa.cert),
        RECEIVER_INSTANCE: "receiver-test-0",
        AUTH_FAILED_SIGN_IN_WINDOW_MS: "1000",
      },
    });
    adminToken = (await auth().login({ username: "admin", password: ADMIN_PASSWORD })).tokens!.accessToken;
    await auth().register(
      { username: "nurse", password: USER_PASSWORD, role: Role.USER },
      {
        headers: { authorization: `Bearer ${adminToken}` },
      },
    );
    userToken = (await auth().login({ username: "nurse", password: USER_PASSWORD })).tokens!.accessToken;

    // One device streams with its API key, one with a client certificate only.
    const [keyed] = await pipeline.provision("PK", 1);
    keyPrefix = apiKeyPrefix(keyed!.apiKey)!;
    const devices = as(DeviceService, adminToken);
    await devices.createDevice({ code: "PC", number: 1 });
    const issued = await issueDeviceCertificate({ code: "PC", number: 1 }, { ca: deviceCa });
    await devices.registerDeviceCertificate({ code: "PC", number: 1, certificatePem: issued.cert });
    certificate = {
      fingerprint: issued.fingerprint,
      serial: new X509Certificate(issued.cert).serialNumber.toLowerCase(),
    };
    await sendOne(keyed!.apiKey, undefined);
    await sendOne(undefined, { certFile: file("pc.pem", issued.cert), keyFile: file("pc-key.pem", issued.key) });
    await waitFor(
      "both devices' readings stored",
      async () => {
        const { count } = await pipeline.database.db
          .selectFrom("readings")
          .select((eb) => eb.fn.countAll<string>().as("count"))
          .executeTakeFirstOrThrow();
        return Number(count) === 6;
      },
      30_000,
      100,
    );
  });
  afterAll(async () => {
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows admins which credential sent each reading and which receiver took it", async () => {
    const readings = as(ReadingService, adminToken);
    const byKey = await readings.listReadings({ filter: { deviceCode: "PK" } });
    expect(byKey.readings).toHaveLength(3);
    for (const r of byKey.readings) {
      expect(r.provenance).toMatchObject({
        keyPrefix,
        certificateFingerprint: "",
        certificateSerial: "",
        receiver: "receiver-test-0",
      });
    }
    const byCert = await readings.listReadings({ filter: { deviceCode: "PC" } });
    expect(byCert.readings).toHaveLength(3);
    for (const r of byCert.readings) {
      expect(r.provenance).toMatchObject({
        keyPrefix: "",
        certificateFingerprint: certificate.fingerprint,
        certificateSerial: certificate.serial,
        receiver: "receiver-test-0",
      });
    }
    // Interned once per (device, credential, receiver), not per batch or reading.
    const sources = await pipeline.database.db.selectFrom("reading_sources").selectAll().execute();
    expect(sources).toHaveLength(2);
  });

  it("never shows provenance to a plain user", async () => {
    const page = await as(ReadingService, userToken).listReadings({ filter: {} });
    expect(page.readings).toHaveLength(6);
    for (const r of page.readings) expect(r.provenance).toBeUndefined();
  });

  it("records one access entry per ListReadings and GetStats request: who, which devices, what range, how many rows", async () => {
    const readings = as(ReadingService, userToken);
    const range = { startTime: timestampFromMs(start - 1_000), endTime: timestampFromMs(start + 60_000) };
    // Two pages of two readings and one: two requests, two entries.
    const first = await readings.listReadings({ filter: { deviceCode: "PK", ...range }, pageSize: 2 });
    const second = await readings.listReadings({
      filter: { deviceCode: "PK", ...range },
      pageSize: 2,
      pageToken: first.nextPageToken,
    });
    expect(second.readings).toHaveLength(1);
    await readings.getStats({ filter: { deviceCode: "PC", deviceNumber: 1, ...range }, bucket: "1h" });

    const audit = as(AuditService, adminToken);
    const lists = (await audit.listAuditLog({ actor: "user:nurse", action: "readings.list" })).entries;
    expect(lists).toHaveLength(3); // the two pages and the unfiltered list of the test before
    const [page2, page1] = lists;
    expect(page1).toMatchObject({
      actor: "user:nurse",
      action: "readings.list",
      target: "devices:PK-*",
      rowsAffected: 2n,
    });
    expect(page1!.details).toMatchObject({
      deviceCode: "PK",
      start: new Date(start - 1_000).toISOString(),
      end: new Date(start + 60_000).toISOString(),
      devicesReturned: ["PK-1"],
    });
    expect(page2).toMatchObject({ rowsAffected: 1n, details: { nextPage: true } });
    const stats = (await audit.listAuditLog({ actor: "user:nurse", action: "readings.stats" })).entries;
    expect(stats).toHaveLength(1);
    expect(stats[0]).toMatchObject({ target: "devices:PC-1", rowsAffected: 3n });
    expect(stats[0]!.details).toMatchObject({ deviceCode: "PC", deviceNumber: 1, bucketMs: 3_600_000 });
    // The family filter finds reads of both kinds.
    const family = (await audit.listAuditLog({ actor: "user:nurse", action: "readings.*" })).entries.filter(
      (e) => e.action !== "readings.watch",
    );
    expect(family.map((e) => e.action).sort()).toEqual([
      "readings.list",
      "readings.list",
      "readings.list",
      "readings.stats",
    ]);
  });

  it("records who opened a live tail of which devices", async () => {
    const abort = new AbortController();
    const watch = as(ReadingService, userToken).watchReadings(
      { filter: { deviceCode: "PK", deviceNumber: 1 } },
      { signal: abort.signal },
    );
    const audit = as(AuditService, adminToken);
    const reading = (async () => {
      for await (const _ of watch) break;
    })().catch(() => {});
    await waitFor(
      "the watch recorded",
      async () => (await audit.listAuditLog({ action: "readings.watch" })).entries.length === 1,
      10_000,
      50,
    );
    abort.abort();
    await reading;
    const [entry] = (await audit.listAuditLog({ action: "readings.watch" })).entries;
    expect(entry).toMatchObject({ actor: "user:nurse", target: "devices:PK-1" });
    expect(entry!.details).toMatchObject({ deviceCode: "PK", deviceNumber: 1 });
  });

  it("records failed sign-ins summed per username and window, and sign-outs", async () => {
    for (let i = 0; i < 5; i++) {
      await expect(auth().login({ username: "nurse", password: "wrong-password" })).rejects.toThrow(/invalid/);
    }
    // A name no account can have: summed without the text typed.
    await expect(auth().login({ username: "Robert'); DROP", password: "x" })).rejects.toThrow(/invalid/);
    const audit = as(AuditService, adminToken);
    await waitFor(
      "failed sign-ins written",
      async () => (await audit.listAuditLog({ action: "auth.login_failed" })).entries.length >= 2,
      10_000,
      100,
    );
    const failed = (await audit.listAuditLog({ action: "auth.login_failed" })).entries;
    const nurse = failed.find((e) => e.target === "user:nurse");
    expect(nurse).toMatchObject({ actor: "anonymous", rowsAffected: 5n });
    expect(nurse!.details).toMatchObject({ failures: 5 });
    const invalid = failed.find((e) => e.target === "user:(invalid)");
    expect(invalid!.details).toMatchObject({ failures: 1 });
    expect(JSON.stringify(failed.map((e) => [e.target, e.details]))).not.toContain("DROP");

    const session = await auth().login({ username: "nurse", password: USER_PASSWORD });
    await auth().logout({ refreshToken: session.tokens!.refreshToken });
    // A made-up token signs nobody out and writes nothing.
    await auth().logout({ refreshToken: "not-a-token" });
    const logouts = (await audit.listAuditLog({ action: "user.logout" })).entries;
    expect(logouts).toHaveLength(1);
    expect(logouts[0]).toMatchObject({ actor: "user:nurse", target: "user:nurse" });
  });

  it("keeps the audit chain verifiable with every access entry in it", async () => {
    const result = await verifyAuditChain(pipeline.database.db);
    expect(result.ok).toBe(true);
    expect(result.entries).toBeGreaterThan(8);
  });
});

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { status } from "@grpc/grpc-js";
import { verifyAuditChain } from "@vigil/db";
import { AuthService, DeviceService } from "@vigil/proto";
import { Fleet } from "@vigil/simulator";
import { repoRoot, waitFor } from "@vigil/testkit";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueDeviceCertificate,
  issueServerCertificate,
} from "@vigil/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { storedBatches } from "./stored-batches.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "vigil-mtls-"));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/**
 * Devices that authenticate with X.509 client certificates (mTLS), against
 * the real pipeline with TLS on every port: registered, rotated and revoked
 * over DeviceService and the CLI, audited, and refused when the certificate
 * is from another CA, expired, unknown or revoked.
 */
describe("device certificates (mTLS)", () => {
  let pipeline: Pipeline;
  let deviceCa: CertificateAuthority;
  let serverCaFile: string;
  let devices: ReturnType<typeof createClient<typeof DeviceService>>;
  let token = "";

  /** A device certificate from `ca` in files, for the simulator and raw streams. */
  async function deviceCert(
    code: string,
    number: number,
    ca = deviceCa,
    extra: { notBefore?: Date; validDays?: number } = {},
  ) {
    const c = await issueDeviceCertificate({ code, number }, { ca, ...extra });
    const tag = `${code}-${number}-${c.fingerprint.slice(0, 8)}`;
    return { ...c, certFile: file(`${tag}.pem`, c.cert), keyFile: file(`${tag}-key.pem`, c.key) };
  }
  const tlsFor = (cert?: { certFile: string; keyFile: string }) => ({
    caFile: serverCaFile,
    serverName: "localhost",
    ...(cert ? { certFile: cert.certFile, keyFile: cert.keyFile } : {}),
  });

  /** Opens a stream with only a certificate; resolves to "welcome" or the refusal's status. */
  async function attempt(cert: { certFile: string; keyFile: string }, apiKey?: string) {
    const s = openRawStream(pipeline.receiver.port, apiKey, tlsFor(cert));
    s.hello();
    try {
      const first = await s.next(5_000);
      return { outcome: first.kind.case as string, stream: s };
    } catch {
      const st = await s.status;
      return { outcome: `status ${st.code}: ${st.details}`, code: st.code, stream: s };
    }
  }

  beforeAll(async () => {
    const serverCa = await createCertificateAuthority();
    deviceCa = await createCertificateAuthority({ name: "Vigil device CA" });
    const server = await issueServerCertificate(["localhost", "127.0.0.1"], { ca: serverCa });
    serverCaFile = file("server-ca.pem", serverCa.cert);
    pipeline = await startTestPipeline({
      env: {
        TLS_CERT_FILE: file("server.pem", server.cert),
        TLS_KEY_FILE: file("server-key.pem", server.key),
        RECEIVER_CLIENT_CA_FILE: file("device-ca.pem", deviceCa.cert),
      },
    });
    const ca = readFileSync(serverCaFile);
    const login = await createClient(
      AuthService,
      createConnectTransport({ baseUrl: pipeline.queryUrl, httpVersion: "1.1", nodeOptions: { ca } }),
    ).login({ username: "admin", password: ADMIN_PASSWORD });
    token = login.tokens!.accessToken;
    devices = createClient(
      DeviceService,
      createConnectTransport({
        baseUrl: pipeline.queryUrl,
        httpVersion: "1.1",
        nodeOptions: { ca },
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("streams with a registered certificate and no API key; every acked reading is stored", async () => {
    await devices.createDevice({ code: "MT", number: 1, kind: "surgical_robot" });
    const cert = await deviceCert("MT", 1);
    const registered = await devices.registerDeviceCertificate({ code: "MT", number: 1, certificatePem: cert.cert });
    expect(registered.certificate).toMatchObject({ fingerprint: cert.fingerprint, subject: "CN=MT-1" });
    expect(registered.device?.certificates.map((c) => c.fingerprint)).toEqual([cert.fingerprint]);

    const fleet = new Fleet([{ code: "MT", number: 1, apiKey: "", certFile: cert.certFile, keyFile: cert.keyFile }], {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      tls: tlsFor(),
      devicesPerConnection: 10,
      intervalMs: 10,
      samplesPerBatch: 5,
      maxBufferedBatches: 100,
      clock: "fast",
      maxBatches: 20,
    });
    fleet.start();
    await waitFor("20 acked batches", () => fleet.stats.batchesAcked >= 20, 30_000, 50);
    await fleet.stop();
    expect(fleet.summary()).toMatchObject({ acked: 20, rejected: 0, authFailures: 0, unacked: 0 });
    await waitFor(
      "stored",
      async () =>
        [...(await storedBatches(pipeline.database.db)).keys()].filter((k) => k.startsWith("MT-1:")).length === 20,
      30_000,
      100,
    );
  });

  it("refuses a certificate from another CA, an expired one, an unregistered one, and a key of another device", async () => {
    await devices.createDevice({ code: "MT", number: 2 });
    const otherCa = await createCertificateAuthority({ name: "not the device CA" });
    const foreign = await deviceCert("MT", 2, otherCa);
    const expired = await deviceCert("MT", 2, deviceCa, {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      validDays: 1,
    });
    const unknown = await deviceCert("MT", 2);
    // Registration refuses what could never authenticate.
    await expect(
      devices.registerDeviceCertificate({ code: "MT", number: 2, certificatePem: expired.cert }),
    ).rejects.toThrow(/expired/);
    await expect(
      devices.registerDeviceCertificate({ code: "MT", number: 2, certificatePem: deviceCa.cert }),
    ).rejects.toThrow(/CA certificate cannot identify a device/);
    await expect(
      devices.registerDeviceCertificate({ code: "MT", number: 2, certificatePem: `${unknown.cert}${unknown.key}` }),
    ).rejects.toMatchObject({ code: Code.InvalidArgument });
    // The foreign and expired ones are registered behind the CA's back (a database edit): the TLS
    // handshake still does not vouch for them, so the receiver never sees them.
    const { id } = await pipeline.database.db
      .selectFrom("devices")
      .select("id")
      .where("code", "=", "MT")
      .where("number", "=", 2)
      .executeTakeFirstOrThrow();
    await pipeline.database.db
      .insertInto("device_certificates")
      .values(
        [foreign, expired].map((c) => ({
          device_id: id,
          fingerprint: c.fingerprint,
          subject: "CN=MT-2",
          issuer: "x",
          serial: "1",
          not_before: new Date(0),
          not_after: new Date(Date.now() + 86_400_000),
        })),
      )
      .execute();
    for (const [name, cert] of [
      ["another CA's", foreign],
      ["an expired", expired],
    ] as const) {
      const r = await attempt(cert);
      expect(r.code, name).toBe(status.UNAUTHENTICATED);
      expect(r.outcome, name).toMatch(/missing x-api-key metadata \(or a registered client certificate\)/);
    }
    const r = await attempt(unknown);
    expect(r.code).toBe(status.UNAUTHENTICATED);
    expect(r.outcome).toMatch(/client certificate is not registered/);

    // A valid certificate of MT-1 with MT-2's API key: two devices at once, refused.
    const mt2 = await devices.rotateDeviceKey({ code: "MT", number: 2 });
    const mt1 = await deviceCert("MT", 1);
    await devices.registerDeviceCertificate({ code: "MT", number: 1, certificatePem: mt1.cert });
    const mixed = await attempt(mt1, mt2.apiKey);
    expect(mixed.outcome).toMatch(/belong to different devices/);
    // Both of the same device: fine.
    const mt2cert = await deviceCert("MT", 2);
    await devices.registerDeviceCertificate({ code: "MT", number: 2, certificatePem: mt2cert.cert });
    const both = await attempt(mt2cert, mt2.apiKey);
    expect(both.outcome).toBe("welcome");
    both.stream.close();
  });

  it("closes a revoked certificate's open stream within a second, and refuses it after; audited", async () => {
    await devices.createDevice({ code: "MT", number: 3 });
    const cert = await deviceCert("MT", 3);
    await devices.registerDeviceCertificate({ code: "MT", number: 3, certificatePem: cert.cert });
    const open = await attempt(cert);
    expect(open.outcome).toBe("welcome");
    open.stream.batch(testBatch(1, [Date.now()], [1]));
    expect((await open.stream.next()).kind.case).toBe("ack");

    const revokedAt = performance.now();
    await devices.revokeDeviceCertificate({ code: "MT", number: 3, fingerprint: cert.fingerprint });
    const closed = await open.stream.status;
    const closedAfterMs = performance.now() - revokedAt;
    expect(closed.code).toBe(status.UNAUTHENTICATED);
    expect(closed.details).toMatch(/client certificate was revoked/);
    expect(closedAfterMs).toBeLessThan(1_000);
    expect((await attempt(cert)).code).toBe(status.UNAUTHENTICATED);

    const { rows } = await pipeline.database.db
      .selectFrom("audit_log")
      .select(["action", "target", "details"])
      .where("action", "like", "device_certificate.%")
      .where("target", "=", "device:MT-3")
      .orderBy("chain_seq")
      .execute()
      .then((rows) => ({ rows }));
    expect(rows.map((r) => r.action)).toEqual(["device_certificate.register", "device_certificate.revoke"]);
    expect(JSON.stringify(rows[1]!.details)).toContain(cert.fingerprint);
    expect((await verifyAuditChain(pipeline.database.db)).ok).toBe(true);
  });

  it("rotates: the new certificate works, the old one stops at once with a grace period of 0s", async () => {
    await devices.createDevice({ code: "MT", number: 4 });
    const old = await deviceCert("MT", 4);
    await devices.registerDeviceCertificate({ code: "MT", number: 4, certificatePem: old.cert });
    const open = await attempt(old);
    expect(open.outcome).toBe("welcome");
    const next = await deviceCert("MT", 4);
    const rotated = await devices.rotateDeviceCertificate({
      code: "MT",
      number: 4,
      certificatePem: next.cert,
      gracePeriod: { seconds: 0n, nanos: 0 },
    });
    expect(rotated.certificate?.fingerprint).toBe(next.fingerprint);
    expect((await open.stream.status).code).toBe(status.UNAUTHENTICATED);
    expect((await attempt(old)).code).toBe(status.UNAUTHENTICATED);
    const fresh = await attempt(next);
    expect(fresh.outcome).toBe("welcome");
    fresh.stream.close();
    // Registering it again (anywhere) is refused.
    await expect(
      devices.registerDeviceCertificate({ code: "MT", number: 1, certificatePem: next.cert }),
    ).rejects.toSatisfy((e) => e instanceof ConnectError && e.code === Code.AlreadyExists);
  });

  it("vigil devices register-cert and revoke-cert do the same from the CLI, over the API and TLS", async () => {
    // The CLI is an API client: the admin's token from the environment, the server's CA through
    // Node's NODE_EXTRA_CA_CERTS (what an operator does for a private CA).
    const run = (args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [join(repoRoot, "packages/cli/src/main.ts"), "--server", pipeline.queryUrl, "--json", ...args],
        { env: { ...process.env, VIGIL_TOKEN: token, NODE_EXTRA_CA_CERTS: serverCaFile } },
      ).then((r) => JSON.parse(r.stdout));
    await devices.createDevice({ code: "MT", number: 5 });
    const cert = await deviceCert("MT", 5);
    const registered = await run([
      "devices",
      "register-cert",
      "--code",
      "MT",
      "--number",
      "5",
      "--cert",
      cert.certFile,
    ]);
    expect(registered.certificate).toMatchObject({ fingerprint: cert.fingerprint, subject: "CN=MT-5" });
    const open = await attempt(cert);
    expect(open.outcome).toBe("welcome");
    const after = await run([
      "devices",
      "revoke-cert",
      "--code",
      "MT",
      "--number",
      "5",
      "--fingerprint",
      cert.fingerprint,
    ]);
    expect(after.certificates[0].revokeTime).toBeTruthy();
    expect((await open.stream.status).details).toMatch(/revoked/);
    const audit = await pipeline.database.db
      .selectFrom("audit_log")
      .select(["actor", "action"])
      .where("target", "=", "device:MT-5")
      .where("action", "like", "device_certificate.%")
      .orderBy("chain_seq")
      .execute();
    expect(audit).toEqual([
      { actor: "user:admin", action: "device_certificate.register" },
      { actor: "user:admin", action: "device_certificate.revoke" },
    ]);
  });
});

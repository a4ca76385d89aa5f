import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService, ReadingService } from "@vigil/proto";
import { createQueryApp, loadQueryConfig } from "@vigil/query";
import { createReceiverApp, loadReceiverConfig } from "@vigil/receiver";
import { createLogger } from "@vigil/runtime";
import { Fleet } from "@vigil/simulator";
import { repoRoot, waitFor } from "@vigil/testkit";
import { createCertificateAuthority, issueServerCertificate, PlaintextRefusedError } from "@vigil/tls";
import { createWriterApp, loadWriterConfig } from "@vigil/writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline } from "./pipeline.ts";
import { ackedBatches, storedBatches } from "./stored-batches.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const dir = mkdtempSync(join(tmpdir(), "vigil-tls-e2e-"));
const files = {
  ca: join(dir, "ca.pem"),
  otherCa: join(dir, "other-ca.pem"),
  cert: join(dir, "server.pem"),
  key: join(dir, "server-key.pem"),
};

/** The certificate a TLS client is shown on `port`, with the protocol ALPN chose and the TLS version. */
function handshake(port: number, options: tls.ConnectionOptions = {}) {
  return new Promise<{ fingerprint: string; alpn: string | false; version: string | null; authorized: boolean }>(
    (resolve, reject) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: readCa(files.ca),
        ...options,
      });
      socket.once("secureConnect", () => {
        resolve({
          fingerprint: socket.getPeerX509Certificate()!.fingerprint256.replaceAll(":", "").toLowerCase(),
          alpn: socket.alpnProtocol ?? false,
          version: socket.getProtocol(),
          authorized: socket.authorized,
        });
        socket.destroy();
      });
      socket.once("error", reject);
    },
  );
}

function readCa(file: string): Buffer {
  return readFileSync(file);
}

/** GET over HTTPS trusting the test CA: status and body. */
function httpsGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: readCa(files.ca) }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

describe("TLS on every port", () => {
  let pipeline: Pipeline;
  let ca: Awaited<ReturnType<typeof createCertificateAuthority>>;

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    const other = await createCertificateAuthority({ name: "someone else's CA" });
    const server = await issueServerCertificate(["localhost", "127.0.0.1"], { ca });
    writeFileSync(files.ca, ca.cert);
    writeFileSync(files.otherCa, other.cert);
    writeFileSync(files.cert, server.cert);
    writeFileSync(files.key, server.key);
    pipeline = await startTestPipeline({
      env: { TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key, TLS_RELOAD_INTERVAL_MS: "200" },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to serve plaintext on a non-loopback address, and says what to set", async () => {
    const logger = createLogger({ name: "e2e", level: "silent" });
    const base = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none", NATS_URL: "nats://127.0.0.1:1" };
    const receiver = createReceiverApp(loadReceiverConfig({ ...base, RECEIVER_HOST: "0.0.0.0" }), { logger });
    await expect(receiver.start()).rejects.toThrow(PlaintextRefusedError);
    await expect(receiver.start()).rejects.toThrow(/TLS_CERT_FILE.*ALLOW_PLAINTEXT=true/s);
    const query = createQueryApp(loadQueryConfig({ ...base, QUERY_HOST: "0.0.0.0" }), { logger });
    await expect(query.start()).rejects.toThrow(/refusing to serve the query API in plaintext on 0\.0\.0\.0/);
    const writer = createWriterApp(loadWriterConfig({ ...base, WRITER_OPS_HOST: "10.1.2.3" }), { logger });
    await expect(writer.start()).rejects.toThrow(/the writer's ops port in plaintext on 10\.1\.2\.3/);
  });

  it("serves gRPC with ALPN h2 and the API with h2 and HTTP/1.1, TLS 1.3, and nothing below TLS 1.2", async () => {
    const receiverPort = pipeline.receiver.port;
    const queryPort = pipeline.query.port;
    expect(await handshake(receiverPort, { ALPNProtocols: ["h2"] })).toMatchObject({
      alpn: "h2",
      version: "TLSv1.3",
      authorized: true,
    });
    expect(await handshake(queryPort, { ALPNProtocols: ["h2", "http/1.1"] })).toMatchObject({ alpn: "h2" });
    expect(await handshake(queryPort, { ALPNProtocols: ["http/1.1"] })).toMatchObject({ alpn: "http/1.1" });
    await expect(handshake(queryPort, { maxVersion: "TLSv1.1", minVersion: "TLSv1" })).rejects.toThrow();
    // A client that does not trust the issuing CA is told the certificate does not verify.
    await expect(handshake(queryPort, { ca: readCa(files.otherCa) })).rejects.toThrow(
      /self.signed|unable to (get|verify)/i,
    );
    // Plain HTTP on the TLS port gets nothing useful.
    await expect(fetch(`http://127.0.0.1:${queryPort}/healthz`)).rejects.toThrow();
    // The writer's and the receiver's ops ports speak HTTPS with the same certificate.
    expect((await httpsGet(`https://localhost:${pipeline.writer.opsPort}/healthz`)).status).toBe(200);
    expect((await httpsGet(`https://localhost:${pipeline.receiver.opsPort}/readyz`)).status).toBe(200);
  });

  it("signs in and lists readings over gRPC (HTTP/2) and Connect-JSON (HTTP/1.1) with the CA", async () => {
    const grpc = createGrpcTransport({ baseUrl: pipeline.queryUrl, nodeOptions: { ca: readCa(files.ca) } });
    const login = await createClient(AuthService, grpc).login({ username: "admin", password: ADMIN_PASSWORD });
    const token = login.tokens!.accessToken;
    const json = createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "1.1",
      nodeOptions: { ca: readCa(files.ca) },
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    const page = await createClient(ReadingService, json).listReadings({ pageSize: 1 });
    expect(page.readings).toBeDefined();
  });

  it("vigil check and the image healthcheck speak TLS", async () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      promisify(execFile)(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env } }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
      );
    const cli = join(repoRoot, "packages/cli/src/main.ts");
    const target = ["--receiver", `127.0.0.1:${pipeline.receiver.port}`, "--query", pipeline.queryUrl];
    const checked = await run([cli, "check", ...target, "--ca-file", files.ca, "--server-name", "localhost"]);
    expect(JSON.parse(checked.stdout)).toMatchObject({
      ok: true,
      receiver: { status: "SERVING" },
      query: { ready: true, listReadings: { code: "unauthenticated" } },
    });
    expect(checked.code).toBe(0);
    // Without the CA neither certificate verifies.
    const untrusted = JSON.parse((await run([cli, "check", ...target, "--tls", "--timeout-ms", "2000"])).stdout);
    expect(untrusted).toMatchObject({ ok: false, receiver: { status: "UNREACHABLE" }, query: { ready: false } });

    const script = join(repoRoot, "docker/healthcheck.ts");
    const tlsEnv = { TLS_CERT_FILE: files.cert };
    expect((await run([script, "grpc"], { ...tlsEnv, RECEIVER_PORT: String(pipeline.receiver.port) })).code).toBe(0);
    const query = [script, "http", "QUERY_PORT", "8080"];
    expect((await run(query, { ...tlsEnv, QUERY_PORT: String(pipeline.query.port) })).code).toBe(0);
    const writer = [script, "http", "WRITER_OPS_PORT", "9102"];
    expect((await run(writer, { ...tlsEnv, WRITER_OPS_PORT: String(pipeline.writer.opsPort) })).code).toBe(0);
    // Plaintext against a TLS port is not healthy.
    expect((await run([script, "grpc"], { RECEIVER_PORT: String(pipeline.receiver.port) })).code).toBe(1);
  });

  it("picks up a renewed certificate under load without dropping a stream or losing an acked reading", async () => {
    const identities = await pipeline.provision("TLS", 10);
    const fleet = new Fleet(identities, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      tls: { caFile: files.ca, serverName: "localhost" },
      devicesPerConnection: 5,
      intervalMs: 20,
      samplesPerBatch: 10,
      maxBufferedBatches: 1_000,
      clock: "realtime",
    });
    const before = await handshake(pipeline.receiver.port);
    fleet.start();
    try {
      await waitFor("streams up and acking", () => fleet.stats.batchesAcked >= 50, 30_000, 50);
      // cert-manager renews: a new key and certificate written over the old files (key first,
      // so for a moment the pair does not match: the old one must stay in use meanwhile).
      const renewed = await issueServerCertificate(["localhost", "127.0.0.1"], { ca });
      writeFileSync(files.key, renewed.key);
      await new Promise((r) => setTimeout(r, 300));
      writeFileSync(files.cert, renewed.cert);
      const ackedAtRenewal = fleet.stats.batchesAcked;
      for (const port of [pipeline.receiver.port, pipeline.query.port, pipeline.writer.opsPort]) {
        await waitFor(
          `port ${port} serving the renewed certificate`,
          async () => (await handshake(port)).fingerprint === renewed.fingerprint,
          10_000,
          100,
        );
      }
      expect(before.fingerprint).not.toBe(renewed.fingerprint);
      await waitFor("acks after the renewal", () => fleet.stats.batchesAcked >= ackedAtRenewal + 100, 30_000, 50);
    } finally {
      await fleet.stop();
    }
    const summary = fleet.summary();
    // The open streams carried on over their old TLS sessions: no device had to reconnect.
    expect(summary).toMatchObject({ reconnects: 0, rejected: 0, unacked: 0, authFailures: 0 });
    const acked = ackedBatches(fleet.devices);
    await waitFor(
      "every acked batch stored",
      async () => {
        const stored = await storedBatches(pipeline.database.db);
        return [...acked].every(([k, n]) => stored.get(k) === n);
      },
      30_000,
      100,
    );
    const stored = await storedBatches(pipeline.database.db);
    expect(new Map([...stored].filter(([k]) => k.startsWith("TLS-")))).toEqual(acked);
  });

  it("a device that does not trust the receiver's CA never gets a batch acked", async () => {
    const identities = await pipeline.provision("UNTRUST", 1);
    const fleet = new Fleet(identities, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      tls: { caFile: files.otherCa, serverName: "localhost" },
      devicesPerConnection: 1,
      intervalMs: 50,
      samplesPerBatch: 1,
      maxBufferedBatches: 10,
      clock: "realtime",
    });
    fleet.start();
    await new Promise((r) => setTimeout(r, 1_000));
    await fleet.stop(500);
    expect(fleet.stats.batchesAcked).toBe(0);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { createTestDatabase, type NatsServer, startNats } from "@vigil/testkit";
import { createCertificateAuthority, issueClientCertificate, issueServerCertificate } from "@vigil/tls";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runFleetToCompletion } from "./fleet-run.ts";
import { type Pipeline, startPipeline } from "./pipeline.ts";
import { openRawStream } from "./raw-stream.ts";
import { ackedBatches, storedBatches } from "./stored-batches.ts";

/**
 * The pipeline on a nats-server that requires TLS and a client certificate
 * from every connection (`verify: true`): receiver, writer and query
 * connect with NATS_TLS_CA_FILE / NATS_TLS_CERT_FILE / NATS_TLS_KEY_FILE.
 */
describe("NATS over TLS with client certificates", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-nats-tls-"));
  const path = (name: string, content: string) => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return join(dir, name);
  };
  let nats: NatsServer;
  let pipeline: Pipeline;
  let tlsEnv: Record<string, string>;
  let caFile: string;
  let otherCaFile: string;

  beforeAll(async () => {
    const ca = await createCertificateAuthority({ name: "NATS CA" });
    const other = await createCertificateAuthority({ name: "someone else" });
    const server = await issueServerCertificate(["localhost"], { ca });
    const client = await issueClientCertificate("vigil-services", { ca });
    caFile = path("ca.pem", ca.cert);
    otherCaFile = path("other.pem", other.cert);
    tlsEnv = {
      NATS_TLS_CA_FILE: caFile,
      NATS_TLS_CERT_FILE: path("client.pem", client.cert),
      NATS_TLS_KEY_FILE: path("client-key.pem", client.key),
    };
    nats = await startNats({ tls: { cert: server.cert, key: server.key, clientCa: ca.cert } });
    pipeline = await startPipeline({
      databaseUrl: await createTestDatabase(inject("postgresUrl"), "natstls"),
      natsUrl: nats.url,
      env: tlsEnv,
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await nats?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores every acked reading exactly once with every NATS connection on TLS", async () => {
    const identities = await pipeline.provision("NT", 5);
    const fleet = await runFleetToCompletion(identities, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      maxBatches: 20,
    });
    expect(fleet.summary()).toMatchObject({ acked: 100, rejected: 0, unacked: 0 });
    const acked = ackedBatches(fleet.devices);
    await expect.poll(() => storedBatches(pipeline.database.db), { timeout: 30_000 }).toEqual(acked);
  });

  it("refuses a client without TLS, without a client certificate, or trusting another CA", async () => {
    const attempt = (options: Record<string, unknown>) =>
      connect({ servers: nats.url, timeout: 3_000, maxReconnectAttempts: 0, reconnect: false, ...options }).then(
        (nc) => nc.close().then(() => "connected"),
        (err: Error) => err.message,
      );
    // The server requires TLS: a plaintext client is refused.
    expect(await attempt({ tls: null })).not.toBe("connected");
    // TLS, but no client certificate (verify: true).
    expect(await attempt({ tls: { caFile } })).not.toBe("connected");
    // A client certificate, but the server's certificate is not from the CA it trusts.
    expect(await attempt({ tls: { ...tlsOptions(), caFile: otherCaFile } })).not.toBe("connected");
    expect(await attempt({ tls: tlsOptions() })).toBe("connected");
  });

  it("a key revoked over the API reaches the receiver over NATS TLS: the stream closes at once", async () => {
    const [device] = await pipeline.provision("NTAPI", 1);
    const stream = openRawStream(pipeline.receiver.port, device!.apiKey);
    stream.hello();
    expect((await stream.next()).kind.case).toBe("welcome");
    const prefix = device!.apiKey.split("_")[1]!;
    const revokedAt = performance.now();
    // The query service publishes the revocation on its NATS connection (TLS, client certificate).
    const res = await fetch(`${pipeline.queryUrl}/vigil.devices.v1.DeviceService/RevokeDeviceKey`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await pipeline.adminToken()}` },
      body: JSON.stringify({ code: "NTAPI", number: 1, prefix }),
    });
    expect(res.status).toBe(200);
    const closed = await stream.status;
    expect(closed.code).toBe(status.UNAUTHENTICATED);
    expect(performance.now() - revokedAt).toBeLessThan(1_000);
  });

  function tlsOptions() {
    return { caFile, certFile: tlsEnv.NATS_TLS_CERT_FILE, keyFile: tlsEnv.NATS_TLS_KEY_FILE };
  }
});

import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { CertificateFiles } from "./certificate-files.ts";
import { createCertificateAuthority, deviceUri, issueDeviceCertificate, issueServerCertificate } from "./dev-ca.ts";
import { ensureDevTls } from "./dev-tls-dir.ts";
import { followRenewals, secureContextOptions } from "./https-options.ts";
import { assertTransportAllowed, isLoopback, PlaintextRefusedError } from "./server-tls.ts";

const dir = mkdtempSync(join(tmpdir(), "vigil-tls-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The certificate a TLS client sees when it connects, and whether it verified against `ca`. */
function handshake(port: number, ca: string, extra: tls.ConnectionOptions = {}) {
  return new Promise<{ authorized: boolean; error?: string; fingerprint: string; socket: tls.TLSSocket }>(
    (resolve, reject) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port,
        ca,
        servername: "localhost",
        rejectUnauthorized: false,
        ...extra,
      });
      socket.once("secureConnect", () =>
        resolve({
          authorized: socket.authorized,
          error: socket.authorizationError ? String(socket.authorizationError) : undefined,
          fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? "",
          socket,
        }),
      );
      socket.once("error", reject);
    },
  );
}

describe("development CA (vigil certs)", () => {
  it("issues server certificates a TLS client verifies against the CA, and no other CA", async () => {
    const ca = await createCertificateAuthority();
    const other = await createCertificateAuthority({ name: "someone else" });
    const server = await issueServerCertificate(["localhost", "127.0.0.1"], { ca });
    const s = tls.createServer({ cert: server.cert, key: server.key }, (c) => c.end());
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as AddressInfo).port;
    try {
      const good = await handshake(port, ca.cert);
      expect(good.authorized).toBe(true);
      good.socket.destroy();
      const byIp = await handshake(port, ca.cert, {
        servername: undefined,
        checkServerIdentity: tls.checkServerIdentity,
      });
      expect(byIp.authorized).toBe(true);
      byIp.socket.destroy();
      const wrong = await handshake(port, other.cert);
      expect(wrong.authorized).toBe(false);
      wrong.socket.destroy();
    } finally {
      s.close();
    }
    const x = new X509Certificate(server.cert);
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(x.checkHost("localhost")).toBe("localhost");
    expect(x.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(server.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it("issues device client certificates that a server requesting them verifies, naming the device", async () => {
    const ca = await createCertificateAuthority({ name: "Vigil device CA" });
    const serverCa = await createCertificateAuthority();
    const server = await issueServerCertificate(["localhost"], { ca: serverCa });
    const device = await issueDeviceCertificate({ code: "OR", number: 7 }, { ca });
    const expired = await issueDeviceCertificate(
      { code: "OR", number: 8 },
      { ca, notBefore: new Date(Date.now() - 10 * 86_400_000), validDays: 1 },
    );
    const seen: Array<{ authorized: boolean; uri?: string; error?: string }> = [];
    const s = tls.createServer(
      { cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false },
      (c) => {
        seen.push({
          authorized: c.authorized,
          uri: c.getPeerCertificate().subjectaltname,
          error: c.authorizationError ? String(c.authorizationError) : undefined,
        });
        c.end();
      },
    );
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    const port = (s.address() as AddressInfo).port;
    try {
      for (const cert of [device, expired]) {
        const c = await handshake(port, serverCa.cert, { cert: cert.cert, key: cert.key });
        await new Promise((r) => c.socket.once("close", r));
      }
    } finally {
      s.close();
    }
    expect(seen[0]).toEqual({ authorized: true, uri: `URI:${deviceUri("OR", 7)}`, error: undefined });
    expect(seen[1]).toMatchObject({ authorized: false, error: "CERT_HAS_EXPIRED" });
  });

  it("keeps one CA for the quick start and reissues the server certificate only when its names change", async () => {
    const tlsDir = join(dir, "quickstart");
    const first = await ensureDevTls(tlsDir, ["localhost", "127.0.0.1"]);
    const ca = new X509Certificate(await import("node:fs").then((f) => f.readFileSync(first.caFile)));
    const cert1 = await import("node:fs").then((f) => f.readFileSync(first.certFile, "utf8"));
    await ensureDevTls(tlsDir, ["localhost", "127.0.0.1"]);
    expect(await import("node:fs").then((f) => f.readFileSync(first.certFile, "utf8"))).toBe(cert1);
    await ensureDevTls(tlsDir, ["localhost", "127.0.0.1", "vigil.test"]);
    const cert2 = new X509Certificate(await import("node:fs").then((f) => f.readFileSync(first.certFile)));
    expect(cert2.checkHost("vigil.test")).toBe("vigil.test");
    expect(cert2.verify(ca.publicKey)).toBe(true);
  });
});

describe("certificate files", () => {
  it("serves a renewed certificate to new connections without closing open ones, and keeps the last good pair", async () => {
    const ca = await createCertificateAuthority();
    const first = await issueServerCertificate(["localhost"], { ca });
    const second = await issueServerCertificate(["localhost"], { ca });
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const events: string[] = [];
    const files = await CertificateFiles.load({
      certFile,
      keyFile,
      reloadIntervalMs: 50,
      onEvent: (e) => events.push(e.kind),
    });
    const server = https.createServer(secureContextOptions(files.material), (_req, res) => res.end("ok"));
    const stop = followRenewals(server, files);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const fp = (c: { fingerprint: string }) => c.fingerprint.replaceAll(":", "").toLowerCase();
    try {
      const open = await handshake(port, ca.cert);
      expect(fp(open)).toBe(first.fingerprint);

      // A Secret caught half-written: the new certificate with the old key. Refused, the old pair stays.
      writeFileSync(certFile, second.cert);
      await files.reload();
      expect(events).toContain("rejected");
      const during = await handshake(port, ca.cert);
      expect(fp(during)).toBe(first.fingerprint);
      during.socket.destroy();

      writeFileSync(keyFile, second.key);
      await expect
        .poll(async () => {
          const c = await handshake(port, ca.cert);
          c.socket.destroy();
          return fp(c);
        })
        .toBe(second.fingerprint);
      expect(events).toContain("reloaded");
      // The connection opened before the renewal is still up.
      expect(open.socket.destroyed).toBe(false);
      open.socket.destroy();
    } finally {
      stop();
      server.close();
    }
  });

  it("refuses a key that does not belong to the certificate at start", async () => {
    const ca = await createCertificateAuthority();
    const a = await issueServerCertificate(["localhost"], { ca });
    const b = await issueServerCertificate(["localhost"], { ca });
    writeFileSync(join(dir, "a.pem"), a.cert);
    writeFileSync(join(dir, "b-key.pem"), b.key);
    await expect(
      CertificateFiles.load({ certFile: join(dir, "a.pem"), keyFile: join(dir, "b-key.pem"), reloadIntervalMs: 1000 }),
    ).rejects.toThrow(/does not belong to the certificate/);
  });
});

describe("plaintext guard", () => {
  const plain = {
    TLS_CERT_FILE: undefined,
    TLS_KEY_FILE: undefined,
    TLS_RELOAD_INTERVAL_MS: 1000,
    ALLOW_PLAINTEXT: false,
  };
  it("refuses plaintext on a non-loopback address and says what to set", () => {
    expect(() => assertTransportAllowed(plain, "0.0.0.0", "the receiver")).toThrow(PlaintextRefusedError);
    expect(() => assertTransportAllowed(plain, "0.0.0.0", "the receiver")).toThrow(
      /TLS_CERT_FILE.*ALLOW_PLAINTEXT=true/s,
    );
    expect(() => assertTransportAllowed(plain, "10.1.2.3", "x")).toThrow(PlaintextRefusedError);
    expect(() => assertTransportAllowed(plain, "::", "x")).toThrow(PlaintextRefusedError);
  });
  it("allows loopback, TLS, or plaintext when told so", () => {
    for (const host of ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]) expect(isLoopback(host)).toBe(true);
    expect(() => assertTransportAllowed(plain, "127.0.0.1", "x")).not.toThrow();
    expect(() => assertTransportAllowed({ ...plain, ALLOW_PLAINTEXT: true }, "0.0.0.0", "x")).not.toThrow();
    expect(() => assertTransportAllowed({ ...plain, TLS_CERT_FILE: "/c" }, "0.0.0.0", "x")).not.toThrow();
  });
});

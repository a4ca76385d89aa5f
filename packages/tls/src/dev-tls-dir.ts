import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCertificateAuthority, issueServerCertificate } from "./dev-ca.ts";

/** Where a development CA and server certificate live in a directory. */
export interface DevTlsFiles {
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
}

export function devTlsFiles(dir: string): DevTlsFiles {
  return {
    caFile: join(dir, "ca.pem"),
    caKeyFile: join(dir, "ca-key.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server-key.pem"),
  };
}

/**
 * A development CA and a server certificate for `names` in `dir` (the quick
 * start's `<state dir>/tls`), made on first use and kept: clients that
 * trusted ca.pem once keep trusting it. A server certificate that no longer
 * covers `names` or expires within a week is issued again by the same CA.
 */
export async function ensureDevTls(dir: string, names: string[]): Promise<DevTlsFiles> {
  const files = devTlsFiles(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(files.caFile) || !existsSync(files.caKeyFile)) {
    const ca = await createCertificateAuthority({ name: "Vigil quick start CA" });
    writeFileSync(files.caKeyFile, ca.key, { mode: 0o600 });
    writeFileSync(files.caFile, ca.cert);
  }
  if (!serverCertificateFits(files, names)) {
    const ca = { cert: readFileSync(files.caFile, "utf8"), key: readFileSync(files.caKeyFile, "utf8") };
    const server = await issueServerCertificate(names, { ca, validDays: 90 });
    writeFileSync(files.keyFile, server.key, { mode: 0o600 });
    writeFileSync(files.certFile, server.cert);
  }
  return files;
}

function serverCertificateFits(files: DevTlsFiles, names: string[]): boolean {
  if (!existsSync(files.certFile) || !existsSync(files.keyFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(files.certFile));
    const ca = new X509Certificate(readFileSync(files.caFile));
    if (!cert.verify(ca.publicKey)) return false;
    if (Date.parse(cert.validTo) - Date.now() < 7 * 86_400_000) return false;
    return names.every((n) => cert.checkHost(n) !== undefined || cert.checkIP(n) !== undefined);
  } catch {
    return false;
  }
}

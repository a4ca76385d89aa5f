import { isIP } from "node:net";
import { envBool, envInt, envOptionalString } from "@vigil/runtime";
import { CertificateFiles, type CertificateFilesOptions } from "./certificate-files.ts";

/**
 * The TLS settings every Vigil server reads: one certificate and key for
 * every port the process serves (API, gRPC and ops ports alike).
 */
export const serverTlsEnv = {
  /** PEM certificate chain (leaf first) the process serves on every port. Unset: plaintext. */
  TLS_CERT_FILE: envOptionalString(),
  /** Its PEM private key. */
  TLS_KEY_FILE: envOptionalString(),
  /** How often both files are read again (a renewed certificate is used without a restart). */
  TLS_RELOAD_INTERVAL_MS: envInt(30_000, 100, 3_600_000),
  /** Listen in plaintext on a non-loopback address anyway (behind a TLS-terminating mesh, or for trials). */
  ALLOW_PLAINTEXT: envBool(false),
};

export interface ServerTlsConfig {
  TLS_CERT_FILE: string | undefined;
  TLS_KEY_FILE: string | undefined;
  TLS_RELOAD_INTERVAL_MS: number;
  ALLOW_PLAINTEXT: boolean;
}

/** Thrown when a server would listen in plaintext where it must not; the message says what to set. */
export class PlaintextRefusedError extends Error {
  override name = "PlaintextRefusedError";
}

/** True for 127.0.0.0/8, ::1 and "localhost": addresses no other machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (h.startsWith("::ffff:")) return h.slice(7).startsWith("127.");
  return false;
}

/**
 * Refuses to serve `what` in plaintext on a non-loopback address unless
 * ALLOW_PLAINTEXT is set: device keys, passwords, tokens and readings would
 * cross the network readable by anyone on the path.
 */
export function assertTransportAllowed(config: ServerTlsConfig, host: string, what: string): void {
  if (config.TLS_CERT_FILE || config.ALLOW_PLAINTEXT || isLoopback(host)) return;
  throw new PlaintextRefusedError(
    `refusing to serve ${what} in plaintext on ${host}: API keys, passwords, tokens and readings would cross the network unencrypted. ` +
      "Set TLS_CERT_FILE and TLS_KEY_FILE (npx vigil certs makes a development CA and certificates), " +
      "listen on 127.0.0.1, or set ALLOW_PLAINTEXT=true when something in front terminates TLS.",
  );
}

/**
 * The process's certificate files when TLS is configured (checked and
 * watched for renewals), or undefined for plaintext. Throws when only one
 * of the two files is set or they cannot serve TLS.
 */
export async function loadServerCertificates(
  config: ServerTlsConfig,
  onEvent?: CertificateFilesOptions["onEvent"],
): Promise<CertificateFiles | undefined> {
  const { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } = config;
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new Error("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  return CertificateFiles.load({ certFile, keyFile, reloadIntervalMs: config.TLS_RELOAD_INTERVAL_MS, onEvent });
}

/** TLS 1.2 at least (1.3 preferred by Node when both sides have it). */
export const MIN_TLS_VERSION = "TLSv1.2" as const;

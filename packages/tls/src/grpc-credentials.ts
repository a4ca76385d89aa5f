import { X509Certificate } from "node:crypto";
import { readFile, readFileSync } from "node:fs";
import { ChannelCredentials, experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { CertificateFiles } from "./certificate-files.ts";

type Provider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * grpc-js's certificate provider fed by CertificateFiles: the receiver's
 * server credentials follow renewed files (grpc-js calls setSecureContext,
 * so open connections and their streams are untouched). grpc-js's own
 * FileWatcherCertificateProvider reads the files the same way but hands out
 * `null` when a read fails or the pair is caught half-written, which makes
 * the server drop every new connection until the next read; this one keeps
 * serving the last good pair instead.
 */
export function identityProvider(files: CertificateFiles): Provider {
  const listeners = new Map<IdentityListener, () => void>();
  return {
    addIdentityCertificateListener(listener) {
      const stop = files.onChange((m) => listener({ certificate: m.cert, privateKey: m.key }));
      listeners.set(listener, stop);
      const m = files.material;
      process.nextTick(listener, { certificate: m.cert, privateKey: m.key });
    },
    removeIdentityCertificateListener(listener) {
      listeners.get(listener)?.();
      listeners.delete(listener);
    },
    addCaCertificateListener() {},
    removeCaCertificateListener() {},
  };
}

/**
 * A CA bundle file (the CA that signs device certificates) read again every
 * `reloadIntervalMs`; a bundle that does not parse is ignored and the last
 * good one stays.
 */
export function caFileProvider(file: string, reloadIntervalMs: number): Provider {
  let current = readCaFile(file);
  const listeners = new Set<CaListener>();
  let timer: NodeJS.Timeout | undefined;
  const poll = () =>
    readFile(file, (err, data) => {
      if (err || data.equals(current)) return;
      try {
        new X509Certificate(data);
      } catch {
        return;
      }
      current = data;
      for (const l of listeners) l({ caCertificate: data });
    });
  return {
    addCaCertificateListener(listener) {
      listeners.add(listener);
      if (!timer) {
        timer = setInterval(poll, reloadIntervalMs);
        timer.unref();
      }
      process.nextTick(listener, { caCertificate: current });
    },
    removeCaCertificateListener(listener) {
      listeners.delete(listener);
      if (listeners.size === 0) {
        clearInterval(timer);
        timer = undefined;
      }
    },
    addIdentityCertificateListener() {},
    removeIdentityCertificateListener() {},
  };
}

function readCaFile(file: string): Buffer {
  const data = readFileSync(file);
  try {
    new X509Certificate(data);
  } catch (err) {
    throw new Error(`${file} holds no PEM CA certificate (${(err as Error).message})`);
  }
  return data;
}

/**
 * Server credentials from the process's certificate files. With `clientCa`
 * the server asks every client for a certificate signed by it (devices'
 * certificates) but does not require one: a device may still come with an
 * API key only, and a certificate that does not verify is not presented to
 * the application at all (getAuthContext() has no peer certificate).
 */
export function grpcServerCredentials(files: CertificateFiles, clientCa?: Provider): ServerCredentials {
  // grpc-js names the first parameter caCertificateProvider, but hands it on as the identity provider.
  return experimental.createCertificateProviderServerCredentials(identityProvider(files), clientCa ?? null, false);
}

export interface ClientTlsFiles {
  /** CA bundle the server's certificate must chain to; unset: the system's roots. */
  caFile?: string;
  /** Client certificate and key (mTLS), e.g. a device certificate. */
  certFile?: string;
  keyFile?: string;
  /** Host name to verify instead of the one dialled (an IP address, a tunnel). */
  serverName?: string;
}

/** grpc-js channel credentials for a TLS server, with an optional client certificate. */
export function grpcClientCredentials(files: ClientTlsFiles): ChannelCredentials {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw new Error("a client certificate needs both its certificate and its key file");
  }
  const creds = ChannelCredentials.createSsl(
    files.caFile ? readFileSync(files.caFile) : null,
    files.keyFile ? readFileSync(files.keyFile) : null,
    files.certFile ? readFileSync(files.certFile) : null,
  );
  return creds;
}

/** Channel options for TLS clients: the name to verify when it differs from the address dialled. */
export function grpcClientOptions(files: ClientTlsFiles): Record<string, string> {
  return files.serverName ? { "grpc.ssl_target_name_override": files.serverName } : {};
}

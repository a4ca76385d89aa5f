import type { Logger } from "@vigil/runtime";
import type { CertificateFiles } from "./certificate-files.ts";
import { assertTransportAllowed, loadServerCertificates, type ServerTlsConfig } from "./server-tls.ts";

/** One port a service is about to listen on, for the plaintext check and its message. */
export interface Listener {
  host: string;
  /** What it serves, in the refusal message: "the receiver's gRPC port". */
  what: string;
}

/**
 * Decides how a service's ports are served, before any of them listens:
 * TLS from TLS_CERT_FILE/TLS_KEY_FILE (checked, then re-read every
 * TLS_RELOAD_INTERVAL_MS, renewals and refusals logged), or plaintext,
 * which is refused (PlaintextRefusedError, saying what to set) for any
 * listener on a non-loopback address unless ALLOW_PLAINTEXT is set.
 */
export async function serverTransport(
  config: ServerTlsConfig,
  listeners: Listener[],
  log: Logger,
): Promise<CertificateFiles | undefined> {
  const files = await loadServerCertificates(config, (event) => {
    if (event.kind === "reloaded") log.info({ fingerprint: event.fingerprint }, "TLS certificate renewed");
    else log.error({ err: event.error }, "TLS certificate files refused; serving the previous certificate");
  });
  if (files) {
    const m = files.material;
    log.info({ fingerprint: m.fingerprint, notAfter: new Date(m.notAfterMs).toISOString() }, "serving TLS");
    return files;
  }
  for (const l of listeners) assertTransportAllowed(config, l.host, l.what);
  if (config.ALLOW_PLAINTEXT && listeners.length > 0) {
    log.warn("ALLOW_PLAINTEXT=true: serving plaintext; something in front must terminate TLS");
  }
  return undefined;
}

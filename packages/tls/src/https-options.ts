import type tls from "node:tls";
import type { CertificateFiles, CertificateMaterial } from "./certificate-files.ts";
import { MIN_TLS_VERSION } from "./server-tls.ts";

/** Secure-context options of a Node TLS server (https, http2) from the current certificate files. */
export function secureContextOptions(material: CertificateMaterial): tls.SecureContextOptions {
  return { cert: material.cert, key: material.key, minVersion: MIN_TLS_VERSION };
}

/**
 * Keeps a Node TLS server on the newest certificate: each renewed pair
 * becomes its secure context for new connections; open ones are untouched.
 * Returns the function that stops following.
 */
export function followRenewals(server: Pick<tls.Server, "setSecureContext">, files: CertificateFiles): () => void {
  return files.onChange((material) => server.setSecureContext(secureContextOptions(material)));
}

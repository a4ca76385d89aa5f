import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";

/** A certificate chain and its private key, PEM, plus the CA bundle that verifies peers when configured. */
export interface CertificateMaterial {
  cert: Buffer;
  key: Buffer;
  /** CA certificates peers' certificates must chain to (client certificates on a server). */
  ca?: Buffer;
  /** notAfter of the leaf certificate, ms. */
  notAfterMs: number;
  /** SHA-256 fingerprint of the leaf, lower-case hex. */
  fingerprint: string;
}

export interface CertificateFilesOptions {
  certFile: string;
  keyFile: string;
  caFile?: string;
  /** How often the files are read again; a changed, valid pair replaces the one in use. */
  reloadIntervalMs: number;
  /** Told about a pair that could not be used (kept the previous one) and about each reload. */
  onEvent?: (event: { kind: "reloaded"; fingerprint: string } | { kind: "rejected"; error: Error }) => void;
}

/**
 * A server's certificate and key, read from files (Kubernetes Secrets,
 * cert-manager) and read again every `reloadIntervalMs`. A renewed pair is
 * handed to every listener (which calls `setSecureContext`, so new
 * connections use it while open ones, and their streams, carry on); a pair
 * that does not parse or whose key does not match the certificate (a Secret
 * caught half-written) is refused and the last good one stays in use.
 */
export class CertificateFiles {
  private readonly options: CertificateFilesOptions;
  private current: CertificateMaterial;
  private raw: string;
  private readonly listeners = new Set<(material: CertificateMaterial) => void>();
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;

  private constructor(options: CertificateFilesOptions, material: CertificateMaterial, raw: string) {
    this.options = options;
    this.current = material;
    this.raw = raw;
  }

  /** Reads and checks the files once; throws with the reason when they cannot serve TLS. */
  static async load(options: CertificateFilesOptions): Promise<CertificateFiles> {
    const { material, raw } = await readMaterial(options);
    return new CertificateFiles(options, material, raw);
  }

  get material(): CertificateMaterial {
    return this.current;
  }

  /** Calls `listener` with every new pair from now on; starts watching on the first listener. */
  onChange(listener: (material: CertificateMaterial) => void): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.reload(), this.options.reloadIntervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  /** Reads the files now; resolves once a changed pair was handed out (or refused). */
  reload(): Promise<void> {
    this.reading ??= this.readOnce().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async readOnce(): Promise<void> {
    let next: { material: CertificateMaterial; raw: string };
    try {
      next = await readMaterial(this.options);
    } catch (err) {
      this.options.onEvent?.({ kind: "rejected", error: err as Error });
      return;
    }
    if (next.raw === this.raw) return;
    this.raw = next.raw;
    this.current = next.material;
    this.options.onEvent?.({ kind: "reloaded", fingerprint: next.material.fingerprint });
    for (const listener of this.listeners) listener(next.material);
  }
}

async function readMaterial(options: CertificateFilesOptions): Promise<{ material: CertificateMaterial; raw: string }> {
  const [cert, key, ca] = await Promise.all([
    readFile(options.certFile),
    readFile(options.keyFile),
    options.caFile ? readFile(options.caFile) : Promise.resolve(undefined),
  ]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${options.certFile} holds no PEM certificate (${(err as Error).message})`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${options.keyFile} holds no PEM private key (${(err as Error).message})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new Error(`the key in ${options.keyFile} does not belong to the certificate in ${options.certFile}`);
  }
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new Error(`${options.caFile} holds no PEM certificate (${(err as Error).message})`);
    }
  }
  return {
    material: {
      cert,
      key,
      ...(ca ? { ca } : {}),
      notAfterMs: Date.parse(leaf.validTo),
      fingerprint: certificateFingerprint(leaf),
    },
    raw: `${cert.toString("base64")}|${key.toString("base64")}|${ca?.toString("base64") ?? ""}`,
  };
}

/** SHA-256 of a certificate's DER, lower-case hex without separators: how Vigil names a device certificate. */
export function certificateFingerprint(cert: X509Certificate | Buffer | string): string {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return x509.fingerprint256.replaceAll(":", "").toLowerCase();
}

import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";
import { certificateFingerprint } from "./certificate-files.ts";

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

/** ECDSA P-256 with SHA-256: small, fast, and accepted by every TLS stack Vigil meets. */
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, PEM. */
export interface IssuedCertificate {
  cert: string;
  key: string;
  /** SHA-256 of the certificate's DER, lower-case hex: what DeviceService registers. */
  fingerprint: string;
  notAfter: Date;
}

export interface CertificateAuthority extends IssuedCertificate {
  name: string;
}

/** The URI SAN that names a device in its certificate: `urn:vigil:device:OR-7`. */
export function deviceUri(code: string, number: number): string {
  return `urn:vigil:device:${code}-${number}`;
}

/**
 * A certificate authority for development and tests (`npx vigil certs ca`):
 * a self-signed ECDSA P-256 CA that may sign only end-entity certificates.
 */
export async function createCertificateAuthority(
  options: { name?: string; validDays?: number; now?: Date } = {},
): Promise<CertificateAuthority> {
  const name = options.name ?? "Vigil development CA";
  const keys = await generateKeys();
  const notBefore = new Date((options.now ?? new Date()).getTime() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${escapeDn(name)}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validDays ?? 3650) * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { name, ...(await issued(cert, keys.privateKey)) };
}

export interface IssueOptions {
  /** The CA's certificate and key, PEM. */
  ca: { cert: string; key: string };
  validDays?: number;
  /** Start of validity (tests make expired certificates with a date in the past). */
  notBefore?: Date;
}

/**
 * A server certificate for `names` (DNS names and IP addresses, the first
 * one also the common name), for TLS server authentication.
 */
export async function issueServerCertificate(names: string[], options: IssueOptions): Promise<IssuedCertificate> {
  if (names.length === 0) throw new Error("a server certificate needs at least one DNS name or IP address");
  return issue(options, names[0]!, {
    usage: x509.ExtendedKeyUsage.serverAuth,
    san: names.map((n) => (isIP(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n })),
  });
}

/**
 * A device's client certificate: CN `OR-7`, URI SAN `urn:vigil:device:OR-7`,
 * for TLS client authentication. The receiver knows the device by the
 * certificate's registered fingerprint, not by these names.
 */
export async function issueDeviceCertificate(
  device: { code: string; number: number },
  options: IssueOptions,
): Promise<IssuedCertificate> {
  const label = `${device.code}-${device.number}`;
  return issue(options, label, {
    usage: x509.ExtendedKeyUsage.clientAuth,
    san: [{ type: "url", value: deviceUri(device.code, device.number) }],
  });
}

/** A client certificate for a service (NATS or PostgreSQL users that authenticate by certificate). */
export async function issueClientCertificate(commonName: string, options: IssueOptions): Promise<IssuedCertificate> {
  return issue(options, commonName, { usage: x509.ExtendedKeyUsage.clientAuth, san: [] });
}

async function issue(
  options: IssueOptions,
  commonName: string,
  what: { usage: string; san: x509.JsonGeneralName[] },
): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(options.ca.cert);
  const caKey = await importKey(options.ca.key);
  const keys = await generateKeys();
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${escapeDn(commonName)}`,
    issuer: caCert.subject,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.validDays ?? 365) * DAY_MS),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([what.usage], false),
      ...(what.san.length > 0 ? [new x509.SubjectAlternativeNameExtension(what.san, false)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return issued(cert, keys.privateKey);
}

async function generateKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as KeyPair;
}

async function importKey(pem: string): Promise<Key> {
  const der = x509.PemConverter.decodeFirst(pem);
  return (await webcrypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"])) as Key;
}

async function issued(cert: x509.X509Certificate, privateKey: Key): Promise<IssuedCertificate> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", privateKey);
  const pem = cert.toString("pem");
  return {
    cert: `${pem}\n`,
    key: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
    fingerprint: certificateFingerprint(pem),
    notAfter: cert.notAfter,
  };
}

/** A positive 128-bit serial number, hex. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString("hex");
}

/** Escapes the characters RFC 4514 reserves in a DN attribute value. */
function escapeDn(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]|[ ]$/g, (c) => `\\${c}`);
}

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  createCertificateAuthority,
  deviceUri,
  type IssuedCertificate,
  issueClientCertificate,
  issueDeviceCertificate,
  issueServerCertificate,
} from "@vigil/tls";
import { UsageError } from "../usage-error.ts";

export const CERTS_USAGE = `vigil certs ca [--dir DIR] [--name NAME] [--days 3650]
  Makes a development certificate authority: DIR/ca.pem (give it to clients) and
  DIR/ca-key.pem (0600, keep it). DIR defaults to ./vigil-certs. Refuses to replace one.
vigil certs server --name localhost [--name 10.0.0.5 …] [--dir DIR] [--out NAME] [--days 90]
  A server certificate for the receiver, the query service and the ops ports
  (TLS_CERT_FILE, TLS_KEY_FILE): DIR/NAME.pem and DIR/NAME-key.pem (NAME: server).
vigil certs device --code OR --number 7 [--dir DIR] [--days 365]
  A device's client certificate (mTLS): DIR/OR-7.pem and DIR/OR-7-key.pem; prints its
  SHA-256 fingerprint, which the device is registered by.
vigil certs client --name NAME [--dir DIR] [--days 365]
  A client certificate for a service (NATS, PostgreSQL): DIR/NAME.pem, DIR/NAME-key.pem.
  For development and tests: production certificates come from your PKI or cert-manager.`;

/** `vigil certs …`: a small CA on disk for development and tests; no database, no server. */
export async function certsCommand(args: string[]): Promise<unknown> {
  const [action, ...rest] = args;
  let values: Record<string, string | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        dir: { type: "string", default: "vigil-certs" },
        name: { type: "string", multiple: true },
        out: { type: "string" },
        code: { type: "string" },
        number: { type: "string" },
        days: { type: "string" },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${CERTS_USAGE}`);
  }
  const dir = values.dir as string;
  const names = (values.name as string[] | undefined) ?? [];
  const days = values.days === undefined ? undefined : Number(values.days);
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > 36_500)) {
    throw new UsageError("--days must be a whole number of days from 1 to 36500");
  }
  if (action === "ca") {
    const files = { cert: join(dir, "ca.pem"), key: join(dir, "ca-key.pem") };
    if (existsSync(files.cert) || existsSync(files.key)) {
      throw new UsageError(`${files.cert} exists: certificates it signed would stop verifying; remove it first`);
    }
    const ca = await createCertificateAuthority({ name: names[0], validDays: days ?? 3650 });
    write(dir, files, ca);
    return describe(files, ca);
  }
  const ca = readCa(dir);
  if (action === "server") {
    if (names.length === 0) throw new UsageError(`--name is required (a DNS name or IP address)\n${CERTS_USAGE}`);
    const base = safeName((values.out as string | undefined) ?? "server");
    const cert = await issueServerCertificate(names, { ca, validDays: days ?? 90 });
    const files = { cert: join(dir, `${base}.pem`), key: join(dir, `${base}-key.pem`) };
    write(dir, files, cert);
    return { ...describe(files, cert), names };
  }
  if (action === "device") {
    const code = values.code as string | undefined;
    const number = Number(values.number);
    if (!code || !/^[A-Z]{1,16}$/.test(code))
      throw new UsageError(`--code must be 1 to 16 capital letters\n${CERTS_USAGE}`);
    if (!Number.isInteger(number) || number < 1 || number > 2_147_483_647) {
      throw new UsageError(`--number must be a positive integer\n${CERTS_USAGE}`);
    }
    const cert = await issueDeviceCertificate({ code, number }, { ca, validDays: days ?? 365 });
    const files = { cert: join(dir, `${code}-${number}.pem`), key: join(dir, `${code}-${number}-key.pem`) };
    write(dir, files, cert);
    return { ...describe(files, cert), device: { code, number }, uri: deviceUri(code, number) };
  }
  if (action === "client") {
    const name = names[0];
    if (!name) throw new UsageError(`--name is required\n${CERTS_USAGE}`);
    const cert = await issueClientCertificate(name, { ca, validDays: days ?? 365 });
    const files = { cert: join(dir, `${safeName(name)}.pem`), key: join(dir, `${safeName(name)}-key.pem`) };
    write(dir, files, cert);
    return describe(files, cert);
  }
  throw new UsageError(`unknown certs command ${action ?? "(none)"}\n${CERTS_USAGE}`);
}

function readCa(dir: string): { cert: string; key: string } {
  try {
    return { cert: readFileSync(join(dir, "ca.pem"), "utf8"), key: readFileSync(join(dir, "ca-key.pem"), "utf8") };
  } catch {
    throw new UsageError(`no CA in ${dir} (ca.pem, ca-key.pem): run vigil certs ca --dir ${dir} first`);
  }
}

function write(dir: string, files: { cert: string; key: string }, issued: IssuedCertificate): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(files.key, issued.key, { mode: 0o600 });
  writeFileSync(files.cert, issued.cert);
}

function describe(files: { cert: string; key: string }, issued: IssuedCertificate) {
  return {
    certFile: files.cert,
    keyFile: files.key,
    fingerprint: issued.fingerprint,
    notAfter: issued.notAfter.toISOString(),
  };
}

/** A file name from a user-given name: no path separators or leading dots. */
function safeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  if (safe === "" || safe.length > 100)
    throw new UsageError("--out/--name must give a file name of 1 to 100 characters");
  return safe;
}

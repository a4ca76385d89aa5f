import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "@commander-js/extra-typings";
import type { Cli } from "../cli.ts";
import { integer } from "../flags.ts";
import { UsageError } from "../usage-error.ts";

type Tls = typeof import("@vigil/tls");
type Issued = Awaited<ReturnType<Tls["issueServerCertificate"]>>;

/**
 * `vigil certs …`: a small CA on disk for development and tests (no server,
 * no database). Production certificates come from a PKI or cert-manager.
 */
export function certsCommand(cli: Cli) {
  const certs = new Command("certs").description(
    "a development CA and its certificates, as files (no server, no database): for development and tests",
  );
  const dirOption = ["--dir <dir>", "where the CA and certificates live", "vigil-certs"] as const;

  certs
    .command("ca")
    .description("make a CA: DIR/ca.pem (give it to clients) and DIR/ca-key.pem (0600, keep it); never replaces one")
    .option(...dirOption)
    .option("--name <name>", "the CA's common name", "Vigil development CA")
    .option("--days <days>", "validity", integer(1, 36_500), 3650)
    .action(async (o) => {
      const files = { cert: join(o.dir, "ca.pem"), key: join(o.dir, "ca-key.pem") };
      if (existsSync(files.cert) || existsSync(files.key)) {
        throw new UsageError(`${files.cert} exists: certificates it signed would stop verifying; remove it first`);
      }
      const { createCertificateAuthority } = await tls();
      const ca = await createCertificateAuthority({ name: o.name, validDays: o.days });
      write(o.dir, files, ca);
      cli.output.object(describe(files, ca));
    });

  certs
    .command("server")
    .description(
      "a server certificate for the receiver, the query service and the ops ports (TLS_CERT_FILE, TLS_KEY_FILE)",
    )
    .option(...dirOption)
    .requiredOption("--name <name...>", "DNS names and IP addresses it is for (the first is also its CN)")
    .option("--out <name>", "file names: DIR/NAME.pem, DIR/NAME-key.pem", "server")
    .option("--days <days>", "validity", integer(1, 36_500), 90)
    .action(async (o) => {
      const { issueServerCertificate } = await tls();
      const cert = await issueServerCertificate(o.name, { ca: readCa(o.dir), validDays: o.days });
      const base = safeName(o.out);
      const files = { cert: join(o.dir, `${base}.pem`), key: join(o.dir, `${base}-key.pem`) };
      write(o.dir, files, cert);
      cli.output.object({ ...describe(files, cert), names: o.name });
    });

  certs
    .command("device")
    .description(
      "a device's client certificate (mTLS): DIR/CODE-N.pem and DIR/CODE-N-key.pem; register it with vigil devices register-cert",
    )
    .option(...dirOption)
    .requiredOption("--code <code>", "device code (capital letters)")
    .requiredOption("--number <n>", "device number", integer(1, 2_147_483_647))
    .option("--days <days>", "validity", integer(1, 36_500), 365)
    .action(async (o) => {
      if (!/^[A-Z]{1,16}$/.test(o.code)) throw new UsageError("--code must be 1 to 16 capital letters");
      const { deviceUri, issueDeviceCertificate } = await tls();
      const cert = await issueDeviceCertificate(
        { code: o.code, number: o.number },
        { ca: readCa(o.dir), validDays: o.days },
      );
      const base = `${o.code}-${o.number}`;
      const files = { cert: join(o.dir, `${base}.pem`), key: join(o.dir, `${base}-key.pem`) };
      write(o.dir, files, cert);
      cli.output.object({
        ...describe(files, cert),
        device: { code: o.code, number: o.number },
        uri: deviceUri(o.code, o.number),
      });
    });

  certs
    .command("client")
    .description("a service's client certificate (NATS, PostgreSQL): DIR/NAME.pem, DIR/NAME-key.pem")
    .option(...dirOption)
    .requiredOption("--name <name>", "its common name")
    .option("--days <days>", "validity", integer(1, 36_500), 365)
    .action(async (o) => {
      const { issueClientCertificate } = await tls();
      const cert = await issueClientCertificate(o.name, { ca: readCa(o.dir), validDays: o.days });
      const base = safeName(o.name);
      const files = { cert: join(o.dir, `${base}.pem`), key: join(o.dir, `${base}-key.pem`) };
      write(o.dir, files, cert);
      cli.output.object(describe(files, cert));
    });

  return certs;
}

/** Loaded on first use: other commands start without the X.509 library. */
function tls(): Promise<Tls> {
  return import("@vigil/tls");
}

function readCa(dir: string): { cert: string; key: string } {
  try {
    return { cert: readFileSync(join(dir, "ca.pem"), "utf8"), key: readFileSync(join(dir, "ca-key.pem"), "utf8") };
  } catch {
    throw new UsageError(`no CA in ${dir} (ca.pem, ca-key.pem): run vigil certs ca --dir ${dir} first`);
  }
}

function write(dir: string, files: { cert: string; key: string }, issued: Issued): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(files.key, issued.key, { mode: 0o600 });
  writeFileSync(files.cert, issued.cert);
}

function describe(files: { cert: string; key: string }, issued: Issued): Record<string, unknown> {
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

import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { execFileAsync } from "./process-tools.ts";

/** A private PostgreSQL cluster in a temp dir, for tests and benchmarks. */
export interface PostgresServer {
  /** URL of the `postgres` database as superuser `vigil`. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /** Trade durability for speed (fsync off): fine for tests, not for benchmarks. */
  fast?: boolean;
  /**
   * Keep the cluster in this directory between runs (a benchmark's loaded
   * dataset): initialized when it holds none, reused otherwise; stop() shuts
   * PostgreSQL down cleanly and leaves the directory. By default the cluster
   * lives in a fresh temp dir that stop() removes.
   */
  dir?: string;
  /**
   * Serve TLS with this certificate and key (PEM) and accept TCP clients only
   * over TLS (pg_hba `hostssl`); Unix-socket clients stay trusted.
   */
  tls?: { cert: string; key: string };
}

/** Finds the newest installed PostgreSQL's bin directory. */
export function postgresBinDir(): string | undefined {
  const base = "/usr/lib/postgresql";
  try {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] ? join(base, versions[0], "bin") : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a PostgreSQL cluster on a free loopback port. PostgreSQL refuses to
 * run as root, so under root it runs as the `postgres` user.
 */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (run scripts/ensure-test-deps.sh)");
  const kept = options.dir !== undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "vigil-pg-"));
  if (kept) mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const { stdout } = await execFileAsync("id", ["-u", "postgres"]);
    const { stdout: gid } = await execFileAsync("id", ["-g", "postgres"]);
    owner = { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
    chownSync(dir, owner.uid, owner.gid);
  }
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileAsync("runuser", ["-u", "postgres", "--", join(bin, cmd), ...args])
      : execFileAsync(join(bin, cmd), args);
  const data = join(dir, "data");
  // A kept cluster is initialized with sync: it outlives this process.
  if (!existsSync(join(data, "PG_VERSION"))) {
    await run("initdb", ["-D", data, "-U", "vigil", "--auth=trust", "-E", "UTF8", ...(kept ? [] : ["--no-sync"])]);
  }
  const tlsSettings: string[] = [];
  if (options.tls) {
    // PostgreSQL refuses a key file others can read; it must belong to the server's user.
    for (const [name, content, mode] of [
      ["server.crt", options.tls.cert, 0o644],
      ["server.key", options.tls.key, 0o600],
    ] as const) {
      writeFileSync(join(dir, name), content, { mode });
      if (owner) chownSync(join(dir, name), owner.uid, owner.gid);
    }
    const hba = join(dir, "pg_hba.conf");
    writeFileSync(hba, "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n");
    if (owner) chownSync(hba, owner.uid, owner.gid);
    tlsSettings.push(
      "-c ssl=on",
      `-c ssl_cert_file=${join(dir, "server.crt")}`,
      `-c ssl_key_file=${join(dir, "server.key")}`,
      `-c hba_file=${hba}`,
    );
  }
  const port = await freePort();
  const settings = [
    ...tlsSettings,
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=200",
    "-c shared_buffers=256MB",
    ...(options.fast ? ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"] : []),
  ].join(" ");
  await run("pg_ctl", ["-D", data, "-o", settings, "-l", join(dir, "log"), "-w", "start"]);
  return {
    url: `postgres://vigil@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      await run("pg_ctl", ["-D", data, "-m", kept ? "fast" : "immediate", "-w", "stop"]).catch(() => {});
      if (!kept) rmSync(dir, { recursive: true, force: true });
    },
  };
}

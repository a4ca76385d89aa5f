import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { execFileAsync, repoRoot } from "./process-tools.ts";

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
  /**
   * Run the private PostgreSQL with the TimescaleDB server extension that
   * `scripts/install-tools.sh timescaledb` builds into .tools/timescaledb (never
   * the system's PostgreSQL, whose plain tests must not see the extension):
   * "preloaded" as TimescaleDB requires (shared_preload_libraries, telemetry
   * off, room for a background job scheduler per database), or "not-preloaded":
   * installed but missing from shared_preload_libraries, a misconfiguration
   * migrations must recognise.
   */
  timescaledb?: "preloaded" | "not-preloaded";
}

/** Where scripts/install-tools.sh timescaledb installs; `current` is the newest build. */
export const TIMESCALEDB_TOOLS_DIR = join(repoRoot, ".tools/timescaledb/current");

/** The bin directory of the private PostgreSQL with TimescaleDB, when it is installed. */
export function timescaledbBinDir(): string | undefined {
  const lib = join(TIMESCALEDB_TOOLS_DIR, "usr/lib/postgresql");
  try {
    for (const major of readdirSync(lib).filter((v) => /^\d+$/.test(v))) {
      const bin = join(lib, major, "bin");
      const extensions = readdirSync(join(lib, major, "lib"));
      if (existsSync(join(bin, "postgres")) && extensions.includes("timescaledb.so")) return bin;
    }
  } catch {
    // not installed
  }
  return undefined;
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
  const bin = options.timescaledb ? timescaledbBinDir() : postgresBinDir();
  if (!bin) {
    throw new Error(
      options.timescaledb
        ? "PostgreSQL with TimescaleDB is not installed (run scripts/install-tools.sh timescaledb)"
        : "PostgreSQL is not installed (run scripts/ensure-test-deps.sh)",
    );
  }
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
    ...(options.timescaledb === "preloaded"
      ? [
          "-c shared_preload_libraries=timescaledb",
          "-c timescaledb.telemetry_level=off",
          // One job scheduler per database with the extension, and tests create many.
          "-c max_worker_processes=64",
          "-c timescaledb.max_background_workers=48",
        ]
      : []),
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

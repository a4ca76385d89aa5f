import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { exited, findExecutable, waitFor } from "./process-tools.ts";

/** A private nats-server with JetStream on disk, for tests and benchmarks. */
export interface NatsServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, or SIGKILL when `kill`), keeping its store. */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port with the same store. */
  start(): Promise<void>;
  /** Stops it and deletes its store. */
  destroy(): Promise<void>;
}

export interface NatsServerOptions {
  /** JetStream `sync_interval`: "always" fsyncs every write; default is the server's (2 min). */
  syncInterval?: string;
  /**
   * Require TLS with this certificate and key (PEM, naming localhost); with `clientCa` every
   * client must also present a certificate signed by it (`verify: true`).
   */
  tls?: { cert: string; key: string; clientCa?: string };
  /** More configuration, such as an `authorization` block (users and their permissions). */
  extraConfig?: string;
}

/** Starts nats-server with JetStream on a free loopback port. */
export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findExecutable("nats-server");
  if (!binary) throw new Error("nats-server is not installed (run scripts/install-tools.sh nats-server)");
  const dir = mkdtempSync(join(tmpdir(), "vigil-nats-"));
  const port = await freePort();
  const config = join(dir, "nats.conf");
  const tls = options.tls;
  if (tls) {
    writeFileSync(join(dir, "cert.pem"), tls.cert);
    writeFileSync(join(dir, "key.pem"), tls.key, { mode: 0o600 });
    if (tls.clientCa) writeFileSync(join(dir, "client-ca.pem"), tls.clientCa);
  }
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      ...(tls
        ? [
            "tls {",
            `  cert_file: "${join(dir, "cert.pem")}"`,
            `  key_file: "${join(dir, "key.pem")}"`,
            ...(tls.clientCa ? [`  ca_file: "${join(dir, "client-ca.pem")}"`, "  verify: true"] : []),
            "  timeout: 2",
            "}",
          ]
        : []),
      // As the chart's NATS: room for the receiver's largest message (RECEIVER_MAX_MESSAGE_BYTES) and its headers.
      "max_payload: 8MB",
      ...(options.extraConfig ? [options.extraConfig] : []),
      "jetstream {",
      `  store_dir: "${join(dir, "store")}"`,
      "  max_memory_store: 256MB",
      "  max_file_store: 8GB",
      ...(options.syncInterval ? [`  sync_interval: ${options.syncInterval}`] : []),
      "}",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    const proc = spawn(binary, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    let stderr = "";
    proc.stderr?.on("data", (chunk) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    await waitFor(`nats-server on port ${port}`, async () => {
      if (proc.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
      return canConnect(port);
    });
  };
  const stop = async ({ kill = false } = {}) => {
    if (!child) return;
    const proc = child;
    child = undefined;
    proc.kill(kill ? "SIGKILL" : "SIGTERM");
    await exited(proc);
  };
  await start();
  return {
    // The certificate names localhost: a TLS client must dial that name.
    url: tls ? `nats://localhost:${port}` : `nats://127.0.0.1:${port}`,
    port,
    start,
    stop,
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

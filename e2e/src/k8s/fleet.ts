import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { checkLoss, type LossReport, type ServiceProcess, startServiceProcess } from "@vigil/testkit";
import { sleep, stateDir } from "./cluster.ts";

/** What the simulator's control API reports (vigil.simulator.v1.FleetSummary, Connect-JSON). */
export interface FleetStatus {
  devices: number;
  connected: number;
  acked: number;
  unacked: number;
  reconnects: number;
  drains: number;
  rejected: number;
}

export interface FleetOptions {
  /** The receiver Service's address, host:port. */
  target: string;
  /** Verify the receivers' certificate against this CA, for this name (the Service's, not its address). */
  tls: { caFile: string; serverName: string };
  /** Where the simulator registers its devices (the release's database, through its Service). */
  databaseUrl: string;
  /** Device code of this fleet: each case has its own, so its rows can be told apart. */
  code: string;
  devices: number;
  intervalMs: number;
}

/**
 * One simulated fleet, run by the project's simulator as its own process on
 * this host, sending through the receiver's Service. On stop it writes every
 * batch it saw acked (SIMULATOR_ACKED_FILE), which `loss()` compares with the
 * table.
 */
export class Fleet {
  readonly options: FleetOptions;
  readonly ackedFile: string;
  private readonly process: ServiceProcess;
  private readonly controlPort: number;

  private constructor(options: FleetOptions, ackedFile: string, process: ServiceProcess, controlPort: number) {
    this.options = options;
    this.ackedFile = ackedFile;
    this.process = process;
    this.controlPort = controlPort;
  }

  static async start(options: FleetOptions): Promise<Fleet> {
    const dir = join(stateDir, "test");
    mkdirSync(dir, { recursive: true });
    const ackedFile = join(dir, `acked-${options.code}.json`);
    const sim = await startServiceProcess(
      "simulator/src/main.ts",
      {
        SIMULATOR_TARGET: options.target,
        SIMULATOR_TLS_CA_FILE: options.tls.caFile,
        SIMULATOR_TLS_SERVER_NAME: options.tls.serverName,
        DATABASE_URL: options.databaseUrl,
        SIMULATOR_PROVISION: String(options.devices),
        SIMULATOR_CODE: options.code,
        SIMULATOR_INTERVAL_MS: String(options.intervalMs),
        SIMULATOR_BATCH_SIZE: "10",
        // One stream per connection: devices spread over receivers as connections do.
        SIMULATOR_DEVICES_PER_CONNECTION: "1",
        SIMULATOR_ACKED_FILE: ackedFile,
        SIMULATOR_CONTROL_HOST: "127.0.0.1",
        SIMULATOR_CONTROL_PORT: "0",
        LOG_LEVEL: "info",
      },
      /"msg":"simulator started"/,
    );
    const port = controlPortOf(sim.output());
    return new Fleet(options, ackedFile, sim, port);
  }

  async status(): Promise<FleetStatus> {
    const res = await fetch(`http://127.0.0.1:${this.controlPort}/vigil.simulator.v1.SimulatorService/GetStatus`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`simulator GetStatus: HTTP ${res.status}`);
    return parseStatus(await res.json());
  }

  /** Waits until every device is connected and has had batches acked. */
  async waitUntilFlowing(timeoutS = 60): Promise<FleetStatus> {
    const deadline = Date.now() + timeoutS * 1000;
    let s = await this.status();
    while (Date.now() < deadline) {
      s = await this.status();
      if (s.connected === s.devices && s.acked >= s.devices * 2) return s;
      await sleep(500);
    }
    throw new Error(`fleet ${this.options.code} not flowing after ${timeoutS} s: ${JSON.stringify(s)}`);
  }

  /** Stops the devices (SIGTERM: they finish and write the acked file). */
  async stop(): Promise<void> {
    await this.process.stop();
  }

  output(): string {
    return this.process.output();
  }

  /**
   * Acked readings missing from the table, and rows stored more than once,
   * once the writers have caught up (or the time is up: then what is still
   * missing counts as lost).
   */
  async loss(timeoutS = 180): Promise<LossReport & { catchUpS: number }> {
    const started = performance.now();
    let report = await checkLoss(this.options.databaseUrl, this.ackedFile, [this.options.code]);
    while (report.lost > 0 && performance.now() - started < timeoutS * 1000) {
      await sleep(2_000);
      report = await checkLoss(this.options.databaseUrl, this.ackedFile, [this.options.code]);
    }
    return { ...report, catchUpS: (performance.now() - started) / 1000 };
  }
}

/** The control API's port from the simulator's "simulator started" log line. */
export function controlPortOf(output: string): number {
  for (const line of output.split("\n")) {
    if (!line.includes('"simulator started"')) continue;
    const port = JSON.parse(line).controlPort;
    if (typeof port === "number" && port > 0) return port;
  }
  throw new Error(`the simulator did not say its control port:\n${output.slice(-2000)}`);
}

/** GetStatus's Connect-JSON answer (64-bit counters arrive as strings) as numbers. */
export function parseStatus(body: unknown): FleetStatus {
  const summary = (body as { status?: { summary?: Record<string, unknown> } }).status?.summary ?? {};
  const n = (k: string) => Number(summary[k] ?? 0);
  return {
    devices: n("devices"),
    connected: n("connected"),
    acked: n("acked"),
    unacked: n("unacked"),
    reconnects: n("reconnects"),
    drains: n("drains"),
    rejected: n("rejected"),
  };
}

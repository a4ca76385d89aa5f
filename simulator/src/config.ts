import { parseArgs } from "node:util";
import { envBool, envInt, envLogLevel, envOptionalString, envPort, parseEnvConfig } from "@vigil/runtime";
import type { ClientTlsFiles } from "@vigil/tls";
import { z } from "zod";
import { parseShard } from "./shard.ts";

/** Bounds of the time between batches, here and in SimulatorService/SetInterval. */
export const INTERVAL_MS_MIN = 1;
export const INTERVAL_MS_MAX = 3_600_000;

/** Every setting of the simulator: environment variables, overridden by flags. */
export const simulatorEnv = z.object({
  SIMULATOR_TARGET: z.string().default("127.0.0.1:50051"),
  /** Speak TLS to the receivers (implied by SIMULATOR_TLS_CA_FILE). */
  SIMULATOR_TLS: envBool(false),
  /** CA certificate the receivers' certificates must chain to; unset: the system's roots. */
  SIMULATOR_TLS_CA_FILE: envOptionalString(),
  /** Host name to verify in the receivers' certificates instead of the one dialled. */
  SIMULATOR_TLS_SERVER_NAME: envOptionalString(),
  /** JSON file with the devices' keys: an object or an array of {code, number, apiKey}. */
  SIMULATOR_DEVICES_FILE: z.string().optional(),
  /** Register this many devices first (needs DATABASE_URL). */
  SIMULATOR_PROVISION: envInt(0, 0, 100_000),
  /** Device code for provisioned devices. */
  SIMULATOR_CODE: z
    .string()
    .regex(/^[A-Z]{1,16}$/, "must be 1 to 16 capital letters")
    .default("SIM"),
  DATABASE_URL: z.string().optional(),
  SIMULATOR_INTERVAL_MS: envInt(1_000, INTERVAL_MS_MIN, INTERVAL_MS_MAX),
  SIMULATOR_BATCH_SIZE: envInt(10, 1, 10_000),
  SIMULATOR_MAX_BUFFERED_BATCHES: envInt(1_000, 1, 1_000_000),
  SIMULATOR_DEVICES_PER_CONNECTION: envInt(100, 1, 10_000),
  SIMULATOR_CLOCK: z.enum(["realtime", "fast"]).default("realtime"),
  /** Stop after this many seconds (0: run until SIGINT/SIGTERM). */
  SIMULATOR_DURATION_S: envInt(0, 0, 7 * 86_400),
  /** Stop each device after this many batches (0: no limit). */
  SIMULATOR_BATCHES: envInt(0, 0, 1_000_000_000),
  /** On exit, write every acked batch as {"CODE-N": [[seq, readings], …]} to this file. */
  SIMULATOR_ACKED_FILE: z.string().optional(),
  /** This process's part of the fleet, "i/n" (1-based): the devices at positions i-1, i-1+n, … by code and number. */
  SIMULATOR_SHARD: z
    .string()
    .default("1/1")
    .refine((v) => parseShard(v) !== undefined, "must be i/n with 1 <= i <= n <= 9999, such as 2/4"),
  /** Start the devices at once; false waits for SimulatorService/Start. */
  SIMULATOR_AUTOSTART: envBool(true),
  /** Control API (vigil.simulator.v1.SimulatorService, Connect): listen address and port (0: a free port). */
  SIMULATOR_CONTROL_HOST: z.string().default("127.0.0.1"),
  SIMULATOR_CONTROL_PORT: envPort(8090),
  /** Surgical robots (codes OR, ROB…) perform procedures and their parts wear (extra telemetry and condition readings). */
  SIMULATOR_PROCEDURES: envBool(false),
  /** Mean length of a simulated procedure, and mean idle time between two, in seconds. */
  SIMULATOR_PROCEDURE_S: envInt(600, 1, 86_400),
  SIMULATOR_PROCEDURE_GAP_S: envInt(300, 1, 86_400),
  /** The query service where procedures and maintenance are recorded; unset: robots only stream. */
  SIMULATOR_QUERY_URL: envOptionalString(),
  /** A user with the procedures:write and maintenance:write scopes (an admin). */
  SIMULATOR_QUERY_USERNAME: envOptionalString(),
  SIMULATOR_QUERY_PASSWORD: envOptionalString(),
  SIMULATOR_QUERY_PASSWORD_FILE: envOptionalString(),
  LOG_LEVEL: envLogLevel,
});

export type SimulatorConfig = Readonly<z.output<typeof simulatorEnv>>;

const flags = {
  target: "SIMULATOR_TARGET",
  tls: "SIMULATOR_TLS",
  "tls-ca-file": "SIMULATOR_TLS_CA_FILE",
  "tls-server-name": "SIMULATOR_TLS_SERVER_NAME",
  "devices-file": "SIMULATOR_DEVICES_FILE",
  provision: "SIMULATOR_PROVISION",
  code: "SIMULATOR_CODE",
  "interval-ms": "SIMULATOR_INTERVAL_MS",
  "batch-size": "SIMULATOR_BATCH_SIZE",
  "max-buffered-batches": "SIMULATOR_MAX_BUFFERED_BATCHES",
  "devices-per-connection": "SIMULATOR_DEVICES_PER_CONNECTION",
  clock: "SIMULATOR_CLOCK",
  "duration-s": "SIMULATOR_DURATION_S",
  batches: "SIMULATOR_BATCHES",
  "acked-file": "SIMULATOR_ACKED_FILE",
  shard: "SIMULATOR_SHARD",
  autostart: "SIMULATOR_AUTOSTART",
  "control-host": "SIMULATOR_CONTROL_HOST",
  "control-port": "SIMULATOR_CONTROL_PORT",
  procedures: "SIMULATOR_PROCEDURES",
  "procedure-s": "SIMULATOR_PROCEDURE_S",
  "procedure-gap-s": "SIMULATOR_PROCEDURE_GAP_S",
  "query-url": "SIMULATOR_QUERY_URL",
  "query-username": "SIMULATOR_QUERY_USERNAME",
} as const;

export const USAGE = `usage: vigil-simulator [flags]
  --target host:port            receiver address (SIMULATOR_TARGET, default 127.0.0.1:50051)
  --tls true|false              TLS to the receivers (SIMULATOR_TLS; implied by --tls-ca-file)
  --tls-ca-file FILE            CA the receivers' certificates chain to (default: the system's roots)
  --tls-server-name NAME        name to verify in the receivers' certificates instead of the host dialled
  --devices-file FILE           device keys as JSON, from \`vigil devices create\` (SIMULATOR_DEVICES_FILE)
  --provision N --code CODE     register devices CODE-1..N first (with --shard, this shard's share); needs DATABASE_URL
  --interval-ms MS              time between batches (default 1000)
  --batch-size N                samples per sensor per batch (default 10)
  --max-buffered-batches N      unacked batches kept for resend per device (default 1000)
  --devices-per-connection N    streams per HTTP/2 connection (default 100)
  --clock realtime|fast         fast: send as fast as acks allow (benchmarks)
  --duration-s S                stop after S seconds (default: run until SIGINT)
  --batches N                   stop each device after N batches (default: no limit)
  --acked-file FILE             on exit, write every acked batch per device to FILE (for loss checks)
  --shard i/n                   simulate only shard i of n of the fleet (default 1/1: all of it)
  --autostart true|false        false: wait for SimulatorService/Start (default true)
  --control-host HOST           control API address (SIMULATOR_CONTROL_HOST, default 127.0.0.1)
  --control-port PORT           control API port, vigil.simulator.v1.SimulatorService (default 8090, 0: free)
  --procedures true|false       surgical robots perform procedures and wear (SIMULATOR_PROCEDURES, default false)
  --procedure-s S               mean procedure length in seconds (default 600)
  --procedure-gap-s S           mean idle time between procedures in seconds (default 300)
  --query-url URL               record procedures and maintenance there (SIMULATOR_QUERY_URL)
  --query-username NAME         as this user (SIMULATOR_QUERY_USERNAME; password: SIMULATOR_QUERY_PASSWORD[_FILE])`;

/** Environment first, flags on top; throws ConfigError naming every bad setting. */
export function loadSimulatorConfig(env: Record<string, string | undefined>, argv: string[]): SimulatorConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(flags).map((f) => [f, { type: "string" as const }])),
    strict: true,
  });
  const merged: Record<string, string | undefined> = { ...env };
  for (const [flag, name] of Object.entries(flags)) {
    const v = values[flag];
    if (typeof v === "string") merged[name] = v;
  }
  return parseEnvConfig(simulatorEnv, merged);
}

/** The fleet's TLS settings, or undefined for plaintext. */
export function simulatorTls(config: SimulatorConfig): ClientTlsFiles | undefined {
  if (!config.SIMULATOR_TLS && !config.SIMULATOR_TLS_CA_FILE) return undefined;
  return {
    ...(config.SIMULATOR_TLS_CA_FILE ? { caFile: config.SIMULATOR_TLS_CA_FILE } : {}),
    ...(config.SIMULATOR_TLS_SERVER_NAME ? { serverName: config.SIMULATOR_TLS_SERVER_NAME } : {}),
  };
}

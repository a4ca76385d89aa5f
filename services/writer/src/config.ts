import { consumerEnv, natsAuthEnv, natsTlsEnv, streamEnv } from "@vigil/bus";
import { envInt, envLogLevel, envPort, parseEnvConfig } from "@vigil/runtime";
import { serverTlsEnv } from "@vigil/tls";
import { z } from "zod";

/** Every environment variable the writer reads, with its default. */
export const writerEnv = z.object({
  /** Listen address and port of /metrics, /healthz and /readyz. */
  WRITER_OPS_HOST: z.string().default("0.0.0.0"),
  WRITER_OPS_PORT: envPort(9102),
  DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
  LOG_LEVEL: envLogLevel,
  ...serverTlsEnv,
  ...streamEnv,
  ...natsTlsEnv,
  ...natsAuthEnv,
  ...consumerEnv,
  /** Readings per write transaction: more amortises statement cost, fewer bounds latency and memory. */
  WRITER_MAX_BATCH_ROWS: envInt(20_000, 1, 1_000_000),
  /** Longest a received batch waits for more before it is written. */
  WRITER_FLUSH_INTERVAL_MS: envInt(50, 1, 60_000),
  /** JetStream messages fetched ahead of the writer. */
  WRITER_PREFETCH: envInt(2_000, 1, 100_000),
  /** Write transactions in flight at once per writer: three keep two cores busy (docs/performance.md). */
  WRITER_CONCURRENCY: envInt(3, 1, 32),
});

export type WriterConfig = Readonly<z.output<typeof writerEnv>>;

/** Parses the writer's configuration; throws ConfigError naming every bad variable. */
export function loadWriterConfig(env: Record<string, string | undefined>): WriterConfig {
  return parseEnvConfig(writerEnv, env);
}

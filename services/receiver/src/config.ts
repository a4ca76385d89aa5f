import { consumerEnv, natsAuthEnv, natsTlsEnv, streamEnv } from "@vigil/bus";
import { readingRulesEnv } from "@vigil/ingest";
import { envBool, envInt, envLogLevel, envOptionalString, envPort, parseEnvConfig } from "@vigil/runtime";
import { serverTlsEnv } from "@vigil/tls";
import { z } from "zod";

const DAY_MS = 86_400_000;

/** Every environment variable the receiver reads, with its default. */
export const receiverEnv = z.object({
  RECEIVER_HOST: z.string().default("0.0.0.0"),
  RECEIVER_PORT: envPort(50051),
  /** HTTP port of /metrics, /healthz and /readyz. */
  RECEIVER_OPS_PORT: envPort(9101),
  /** Serve gRPC server reflection (grpcurl and buf curl without proto files). */
  RECEIVER_REFLECTION: envBool(false),
  /**
   * This receiver's name in readings' provenance (reading_sources.receiver);
   * unset: the host name (in Kubernetes, the pod's name).
   */
  RECEIVER_INSTANCE: z.string().min(1).max(253).optional(),
  DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
  LOG_LEVEL: envLogLevel,
  ...serverTlsEnv,
  /** CA bundle device client certificates must chain to; set: devices may authenticate with a registered certificate (mTLS). */
  RECEIVER_CLIENT_CA_FILE: envOptionalString(),
  ...streamEnv,
  ...natsTlsEnv,
  ...natsAuthEnv,
  ...consumerEnv,
  /** Most readings in one batch (also: in one series, checked while decoding). */
  RECEIVER_MAX_BATCH_READINGS: envInt(10_000, 1, 1_000_000),
  /** Most series (sensors) in one batch. */
  RECEIVER_MAX_BATCH_SERIES: envInt(1_000, 1, 100_000),
  /** New sensor names one device may add to the dictionary per window (0: only known sensors). */
  RECEIVER_NEW_SENSORS_PER_DEVICE: envInt(100, 0, 1_000_000),
  RECEIVER_NEW_SENSORS_WINDOW_MS: envInt(DAY_MS, 60_000, 365 * DAY_MS),
  /** Rejected batches and undecodable messages in a row (no batch stored between) after which a stream is closed. */
  RECEIVER_MAX_REJECTS_PER_STREAM: envInt(20, 1, 1_000_000),
  /** Bytes of a rejected batch kept in dead_letters (the rest is cut; a cut one cannot be replayed). */
  RECEIVER_DEAD_LETTER_MAX_PAYLOAD_BYTES: envInt(256 * 1024, 0, 64 * 1024 * 1024),
  /** Rejected batches of one device stored per 24 hours; beyond it rejects are answered and counted only. */
  RECEIVER_DEAD_LETTERS_PER_DEVICE_PER_DAY: envInt(200, 0, 1_000_000_000),
  /** Dead-letter writes waiting at once; beyond it rejects are answered and counted only. */
  RECEIVER_MAX_PENDING_DEAD_LETTERS: envInt(64, 1, 100_000),
  /** Batches a stream may have waiting for JetStream before the receiver stops reading it. */
  RECEIVER_MAX_IN_FLIGHT_BATCHES: envInt(32, 1, 10_000),
  /** Largest message a device may send, in bytes. */
  RECEIVER_MAX_MESSAGE_BYTES: envInt(4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  ...readingRulesEnv,
  /** How long a verified API key is trusted without asking the database again; open streams are re-checked as often. */
  RECEIVER_AUTH_CACHE_MS: envInt(30_000, 0, 3_600_000),
  /** Default token bucket per device: sustained readings per second… */
  RECEIVER_RATE_LIMIT_PER_S: envInt(10_000, 1, 100_000_000),
  /** …and the burst a device may send at once (devices can override both). */
  RECEIVER_RATE_LIMIT_BURST: envInt(100_000, 1, 1_000_000_000),
  /** A stream must send Hello within this time. */
  RECEIVER_HELLO_TIMEOUT_MS: envInt(10_000, 100, 600_000),
  /** Connection age after which the server asks the client to reconnect (rebalances streams). */
  RECEIVER_MAX_CONNECTION_AGE_MS: envInt(30 * 60_000, 10_000, 7 * DAY_MS),
  /** Time streams get to finish after max connection age before they are cut. */
  RECEIVER_MAX_CONNECTION_AGE_GRACE_MS: envInt(60_000, 1_000, DAY_MS),
  /** Streams one HTTP/2 connection may carry at once. */
  RECEIVER_MAX_CONCURRENT_STREAMS: envInt(1_000, 1, 100_000),
  /** A connection without a stream for this long is closed. */
  RECEIVER_MAX_CONNECTION_IDLE_MS: envInt(5 * 60_000, 1_000, 7 * DAY_MS),
  /** HTTP/2 memory one connection may hold (Node's maxSessionMemory), in MB. */
  RECEIVER_MAX_SESSION_MEMORY_MB: envInt(32, 1, 4_096),
  /** Ping interval that keeps idle connections alive through proxies. */
  RECEIVER_KEEPALIVE_TIME_MS: envInt(30_000, 1_000, 3_600_000),
  /** How long shutdown waits for streams to drain and publishes to settle. */
  RECEIVER_DRAIN_TIMEOUT_MS: envInt(10_000, 0, 600_000),
  /** Delay a drained device should wait before reconnecting. */
  RECEIVER_RECONNECT_AFTER_MS: envInt(500, 0, 60_000),
});

export type ReceiverConfig = Readonly<z.output<typeof receiverEnv>>;

/** Parses the receiver's configuration; throws ConfigError naming every bad variable. */
export function loadReceiverConfig(env: Record<string, string | undefined>): ReceiverConfig {
  return parseEnvConfig(receiverEnv, env);
}

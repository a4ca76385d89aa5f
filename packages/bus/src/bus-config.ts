import { envInt, envOptionalString } from "@vigil/runtime";
import { z } from "zod";
import type { FeedSettings } from "./alert-feed.ts";
import type { ConsumerSettings, StreamSettings } from "./jetstream-bus.ts";

const DAY_MS = 86_400_000;

/**
 * Environment variables of the JetStream stream, shared by receivers and
 * writers (both create or update the stream, so both must agree).
 */
export const streamEnv = {
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  /** 0: keep unconsumed batches until a writer takes them. Anything else can drop acked data. */
  NATS_STREAM_MAX_AGE_MS: envInt(0, 0, 365 * DAY_MS),
  /** Backlog bound: when unconsumed batches fill it, appends wait (devices are held back). */
  NATS_STREAM_MAX_BYTES: envInt(1024 ** 3, -1, Number.MAX_SAFE_INTEGER),
  NATS_DUPLICATE_WINDOW_MS: envInt(120_000, 1_000, DAY_MS),
  NATS_STREAM_REPLICAS: envInt(1, 1, 5),
  NATS_PUBLISH_TIMEOUT_MS: envInt(5_000, 100, 600_000),
};

/**
 * TLS to NATS (every component that connects): the CA the servers'
 * certificates chain to, and a client certificate when the servers ask for
 * one (`verify: true`). A server that requires TLS gets it with or without
 * these; set the CA file for a private CA.
 */
export const natsTlsEnv = {
  NATS_TLS_CA_FILE: envOptionalString(),
  NATS_TLS_CERT_FILE: envOptionalString(),
  NATS_TLS_KEY_FILE: envOptionalString(),
};

export interface NatsTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** nats.js TLS options from NATS_TLS_*, or undefined when none is set. */
export function natsTls(env: Partial<Record<keyof typeof natsTlsEnv, string | undefined>>): NatsTls | undefined {
  const { NATS_TLS_CA_FILE: caFile, NATS_TLS_CERT_FILE: certFile, NATS_TLS_KEY_FILE: keyFile } = env;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new Error("NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE must be set together");
  }
  if (!caFile && !certFile) return undefined;
  return { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile, keyFile } : {}) };
}

/** Environment variables of the writers' shared durable consumer. */
export const consumerEnv = {
  NATS_CONSUMER: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, - and _ only")
    .default("vigil-writer"),
  NATS_ACK_WAIT_MS: envInt(30_000, 1_000, 3_600_000),
  NATS_MAX_DELIVER: envInt(10, 1, 1_000),
  NATS_MAX_ACK_PENDING: envInt(20_000, 1, 1_000_000),
};

/**
 * Environment variables of the alerters' feed (VIGIL_ALERTING), read by the
 * alerters and by `vigil nats setup`, which creates the feed where the
 * alerters' NATS user may not.
 */
export const feedEnv = {
  /** Partitions of the feed: devices are split among replicas a partition at a time (fixed per deployment). */
  ALERTER_PARTITIONS: envInt(16, 1, 1_024),
  /** The feed keeps at most this many bytes of batches (the oldest go first); an alerter away longer reports a gap. */
  ALERTER_FEED_MAX_BYTES: envInt(1024 ** 3, 1024 * 1024, Number.MAX_SAFE_INTEGER),
  /** ... and batches at most this old (0: bounded by bytes only). */
  ALERTER_FEED_MAX_AGE_MS: envInt(3_600_000, 0, 7 * DAY_MS),
  /** "file" survives a NATS restart; "memory" saves NATS the disk writes. */
  ALERTER_FEED_STORAGE: z.enum(["file", "memory"]).default("file"),
};

type FeedEnv = { [K in keyof typeof feedEnv]: z.output<(typeof feedEnv)[K]> };

/** The feed's settings (replicas follow the readings' stream). */
export function feedSettings(env: FeedEnv & { NATS_STREAM_REPLICAS: number }): FeedSettings {
  return {
    partitions: env.ALERTER_PARTITIONS,
    maxBytes: env.ALERTER_FEED_MAX_BYTES,
    maxAgeMs: env.ALERTER_FEED_MAX_AGE_MS,
    replicas: env.NATS_STREAM_REPLICAS,
    storage: env.ALERTER_FEED_STORAGE,
  };
}

type StreamEnv = { [K in keyof typeof streamEnv]: z.output<(typeof streamEnv)[K]> };
type ConsumerEnv = { [K in keyof typeof consumerEnv]: z.output<(typeof consumerEnv)[K]> };

export function streamSettings(env: StreamEnv): StreamSettings {
  return {
    maxAgeMs: env.NATS_STREAM_MAX_AGE_MS,
    maxBytes: env.NATS_STREAM_MAX_BYTES,
    duplicateWindowMs: env.NATS_DUPLICATE_WINDOW_MS,
    replicas: env.NATS_STREAM_REPLICAS,
  };
}

export function consumerSettings(env: ConsumerEnv): ConsumerSettings {
  return {
    durable: env.NATS_CONSUMER,
    ackWaitMs: env.NATS_ACK_WAIT_MS,
    maxDeliver: env.NATS_MAX_DELIVER,
    maxAckPending: env.NATS_MAX_ACK_PENDING,
  };
}

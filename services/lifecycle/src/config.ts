import { DAY_MS, DEFAULT_LIFECYCLE, type LifecycleSettings } from "@vigil/db";
import { forecastEnv } from "@vigil/maintenance";
import { envBool, envInt, envLogLevel, envOptionalString, envPort, parseEnvConfig } from "@vigil/runtime";
import { serverTlsEnv } from "@vigil/tls";
import { z } from "zod";

const HOUR_MS = 3_600_000;

/** Every environment variable the lifecycle service reads, with its default. */
export const lifecycleEnv = z
  .object({
    DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
    LOG_LEVEL: envLogLevel,
    ...serverTlsEnv,
    /** Listen address and port of /metrics, /healthz and /readyz. */
    LIFECYCLE_OPS_HOST: z.string().default("0.0.0.0"),
    LIFECYCLE_OPS_PORT: envPort(9103),
    /** Time between lifecycle runs; each TimescaleDB policy job runs when its schedule_interval has passed. */
    LIFECYCLE_INTERVAL_MS: envInt(60_000, 1_000, DAY_MS),
    /** Raw readings older than this are archived, then dropped (the receiver rejects older ones). */
    READINGS_RETENTION_MS: envInt(DEFAULT_LIFECYCLE.readingsRetentionMs, DAY_MS, 100 * 365 * DAY_MS),
    /** TimescaleDB compresses raw chunks older than this. */
    READINGS_COMPRESS_AFTER_MS: envInt(DEFAULT_LIFECYCLE.compressAfterMs, HOUR_MS, 100 * 365 * DAY_MS),
    AGGREGATES_1M_RETENTION_MS: envInt(DEFAULT_LIFECYCLE.aggregates1mRetentionMs, DAY_MS, 100 * 365 * DAY_MS),
    AGGREGATES_1H_RETENTION_MS: envInt(DEFAULT_LIFECYCLE.aggregates1hRetentionMs, DAY_MS, 100 * 365 * DAY_MS),
    /** Rejected batches (and replayed dead letters) older than this are deleted; unreplayed writer dead letters stay. */
    DEAD_LETTERS_RETENTION_MS: envInt(30 * DAY_MS, HOUR_MS, 100 * 365 * DAY_MS),
    /** s3://bucket[/prefix] or file:<dir>. Unset: nothing is archived, so nothing is dropped. */
    ARCHIVE_URL: envOptionalString(),
    /** An S3-compatible server instead of AWS, e.g. http://minio:9000. */
    ARCHIVE_S3_ENDPOINT: envOptionalString(),
    ARCHIVE_S3_REGION: z.string().default("us-east-1"),
    /** Bucket in the URL path (most S3-compatible servers) instead of the host name. */
    ARCHIVE_S3_FORCE_PATH_STYLE: envBool(false),
    /** Time between recomputations of every robot's maintenance forecasts; 0: never. */
    FORECAST_INTERVAL_MS: envInt(HOUR_MS, 0, DAY_MS),
    ...forecastEnv,
  })
  .superRefine((c, ctx) => {
    // Aggregates answer for the raw rows once those are gone, and a shorter
    // retention would also clash with their refresh window.
    for (const key of ["AGGREGATES_1M_RETENTION_MS", "AGGREGATES_1H_RETENTION_MS"] as const) {
      if (c[key] < c.READINGS_RETENTION_MS) {
        ctx.addIssue({ code: "custom", path: [key], message: "must be at least READINGS_RETENTION_MS" });
      }
    }
  });

export type LifecycleConfig = Readonly<z.output<typeof lifecycleEnv>>;

/** Parses the lifecycle service's configuration; throws ConfigError naming every bad variable. */
export function loadLifecycleConfig(env: Record<string, string | undefined>): LifecycleConfig {
  return parseEnvConfig(lifecycleEnv, env);
}

/** The lifecycle settings a configuration asks for. */
export function lifecycleSettings(config: LifecycleConfig): LifecycleSettings {
  return {
    readingsRetentionMs: config.READINGS_RETENTION_MS,
    compressAfterMs: config.READINGS_COMPRESS_AFTER_MS,
    aggregates1mRetentionMs: config.AGGREGATES_1M_RETENTION_MS,
    aggregates1hRetentionMs: config.AGGREGATES_1H_RETENTION_MS,
  };
}

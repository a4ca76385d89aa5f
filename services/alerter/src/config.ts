import { consumerEnv, feedEnv, natsAuthEnv, natsTlsEnv, streamEnv } from "@vigil/bus";
import { envBool, envInt, envLogLevel, envOptionalString, envPort, parseEnvConfig } from "@vigil/runtime";
import { serverTlsEnv } from "@vigil/tls";
import { z } from "zod";

const DAY_MS = 86_400_000;

/** Every environment variable the alerter reads, with its default. */
export const alerterEnv = z.object({
  ALERTER_OPS_HOST: z.string().default("0.0.0.0"),
  ALERTER_OPS_PORT: envPort(9105),
  DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
  LOG_LEVEL: envLogLevel,
  ...serverTlsEnv,
  ...streamEnv,
  ...natsTlsEnv,
  ...natsAuthEnv,
  ...consumerEnv,
  ...feedEnv,
  /** A replica that has not renewed its partitions for this long loses them to the others. */
  ALERTER_LEASE_TTL_MS: envInt(5_000, 1_000, 600_000),
  /** How often each partition's detector state and feed position are saved (a takeover replays from there). */
  ALERTER_CHECKPOINT_INTERVAL_MS: envInt(2_000, 100, 600_000),
  /** How often rules and devices are re-read. */
  ALERTER_RULES_REFRESH_MS: envInt(2_000, 100, 600_000),
  /** Absence rules: how late readings may arrive (pipeline delay) before silence counts. */
  ALERTER_ABSENCE_GRACE_MS: envInt(5_000, 0, 3_600_000),
  /** Webhooks to private, loopback and link-local addresses are refused unless this is true. */
  ALERTER_WEBHOOK_ALLOW_PRIVATE: envBool(false),
  /** Comma-separated addresses or CIDRs webhooks may reach even though private (such as 10.1.2.0/24). */
  ALERTER_WEBHOOK_ALLOWED_CIDRS: envOptionalString().refine(
    (v) => v === undefined || cidrList(v).every((c) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(c)),
    "must be comma-separated addresses or CIDRs",
  ),
  /** One webhook attempt may take this long. */
  ALERTER_WEBHOOK_TIMEOUT_MS: envInt(10_000, 100, 120_000),
  /** A notification is retried (exponential backoff with jitter) until this long after it was raised, then marked failed. */
  ALERTER_DELIVERY_DEADLINE_MS: envInt(3_600_000, 1_000, 7 * DAY_MS),
  /** Longest wait between two attempts. */
  ALERTER_DELIVERY_MAX_BACKOFF_MS: envInt(300_000, 100, DAY_MS),
  /** Deliveries sent at once per replica. */
  ALERTER_DELIVERY_CONCURRENCY: envInt(8, 1, 256),
  /** smtp:// or smtps:// URL (user and password in it) of the mail server for email channels; unset: email fails. */
  ALERTER_SMTP_URL: envOptionalString(),
  ALERTER_SMTP_FROM: z.string().default("Vigil <vigil@localhost>"),
  /** Write every alert raised and resolved to the log (info). */
  ALERTER_LOG_ALERTS: envBool(true),
});

export type AlerterConfig = Readonly<z.output<typeof alerterEnv>>;

/** Parses the alerter's configuration; throws ConfigError naming every bad variable. */
export function loadAlerterConfig(env: Record<string, string | undefined>): AlerterConfig {
  return parseEnvConfig(alerterEnv, env);
}

/** ALERTER_WEBHOOK_ALLOWED_CIDRS as a list. */
export function cidrList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
}

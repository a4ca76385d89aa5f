import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/**
 * Paths pino censors in every log line. Secrets never reach a log: API keys,
 * passwords, tokens and connection strings with credentials.
 */
export const redactedPaths = [
  "apiKey",
  "*.apiKey",
  "password",
  "*.password",
  "token",
  "*.token",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "authorization",
  "*.authorization",
  "headers.authorization",
  'headers["x-api-key"]',
  'metadata["x-api-key"]',
  "databaseUrl",
  "*.databaseUrl",
];

export interface LoggerOptions {
  /** Service name, logged as `service` on every line. */
  name: string;
  /** pino level: trace, debug, info, warn, error, fatal or silent. */
  level?: string;
}

/** Creates the structured JSON logger every Vigil process uses. */
export function createLogger(options: LoggerOptions): Logger {
  return pino({
    level: options.level ?? "info",
    base: { service: options.name },
    redact: { paths: redactedPaths, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

import { TraceFlags, trace } from "@opentelemetry/api";
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
  /** Where lines go (default stdout); tests capture them here. */
  destination?: pino.DestinationStream;
}

/** Creates the structured JSON logger every Vigil process uses. */
export function createLogger(options: LoggerOptions): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: { service: options.name },
    redact: { paths: redactedPaths, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // "level":"info" rather than pino's numbers: what Loki, Google Cloud Logging and Datadog read as the level.
    formatters: { level: (label) => ({ level: label }) },
    // Every line logged inside a sampled span names its trace and span (an
    // unsampled trace id would lead nowhere).
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span && span.traceFlags & TraceFlags.SAMPLED ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

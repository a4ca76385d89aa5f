export { parseDuration } from "./duration.ts";
export {
  ConfigError,
  envBool,
  envInt,
  envLogLevel,
  envOptionalString,
  envPort,
  parseEnvConfig,
} from "./env-config.ts";
export { createLogger, type Logger, type LoggerOptions, redactedPaths } from "./logger.ts";
export { type App, type RunServiceOptions, runService } from "./run-service.ts";
export { TokenBucket } from "./token-bucket.ts";

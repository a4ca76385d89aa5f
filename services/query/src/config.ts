import { consumerEnv, streamEnv } from "@vigil/bus";
import { readingRulesEnv } from "@vigil/ingest";
import { envBool, envLogLevel, envPort, parseEnvConfig } from "@vigil/runtime";
import { z } from "zod";

/** Every environment variable the query service reads, with its default. */
export const queryEnv = z.object({
  QUERY_HOST: z.string().default("0.0.0.0"),
  QUERY_PORT: envPort(8080),
  DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
  LOG_LEVEL: envLogLevel,
  ...streamEnv,
  ...consumerEnv,
  ...readingRulesEnv,
  /**
   * Serve DeviceService and DeadLetterService. Off by default: until user
   * authentication is configured, anyone who can reach the port could use them.
   */
  QUERY_DEVICE_ADMIN_ENABLED: envBool(false),
  /** Comma-separated browser origins allowed to call the API, or "*". */
  QUERY_CORS_ORIGINS: z
    .string()
    .default("*")
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
});

export type QueryConfig = Readonly<z.output<typeof queryEnv>>;

/** Parses the query service's configuration; throws ConfigError naming every bad variable. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfig {
  return parseEnvConfig(queryEnv, env);
}

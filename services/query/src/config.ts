import { readFileSync } from "node:fs";
import { consumerEnv, streamEnv } from "@vigil/bus";
import { readingRulesEnv } from "@vigil/ingest";
import { envBool, envInt, envLogLevel, envOptionalString, envPort, parseEnvConfig } from "@vigil/runtime";
import { z } from "zod";

const DAY_MS = 86_400_000;

/** Every environment variable the query service reads, with its default. */
export const queryEnv = z.object({
  QUERY_HOST: z.string().default("0.0.0.0"),
  QUERY_PORT: envPort(8080),
  DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
  LOG_LEVEL: envLogLevel,
  ...streamEnv,
  ...consumerEnv,
  ...readingRulesEnv,
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
  /** Requests per minute one signed-in user may make (per replica); a tenth of it may come at once. */
  QUERY_USER_REQUESTS_PER_MIN: envInt(3_000, 1, 10_000_000),
  /** Batches a WatchReadings client may fall behind before it is dropped. */
  QUERY_WATCH_BUFFER_BATCHES: envInt(1_000, 1, 1_000_000),
  /** The console's built files, served at /; a relative path is from the repository's root (/app in the image); empty: no console. */
  QUERY_CONSOLE_DIR: z.string().default("web/dist"),
  /** Ed25519 private JWK set signing access tokens (first key signs, all verify). Unset: a key generated at start. */
  AUTH_JWT_KEYS: envOptionalString(),
  /** A file holding AUTH_JWT_KEYS (a mounted secret); read at start. */
  AUTH_JWT_KEYS_FILE: envOptionalString(),
  AUTH_ACCESS_TOKEN_TTL_MS: envInt(15 * 60_000, 10_000, DAY_MS),
  AUTH_REFRESH_TOKEN_TTL_MS: envInt(30 * DAY_MS, 60_000, 365 * DAY_MS),
  /** Anyone may register a plain user; otherwise only admins create users. */
  AUTH_OPEN_REGISTRATION: envBool(false),
  /** Sign-in attempts per minute per username… */
  AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN: envInt(10, 1, 100_000),
  /** …and per client address. */
  AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN: envInt(30, 1, 100_000),
  /** Creates this admin at start when no admin exists (Kubernetes secrets); with the password below. */
  AUTH_BOOTSTRAP_ADMIN_USERNAME: envOptionalString(),
  AUTH_BOOTSTRAP_ADMIN_PASSWORD: envOptionalString(),
  AUTH_BOOTSTRAP_ADMIN_PASSWORD_FILE: envOptionalString(),
});

export type QueryConfig = Readonly<z.output<typeof queryEnv>>;

/** Parses the query service's configuration; throws ConfigError naming every bad variable. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfig {
  return parseEnvConfig(queryEnv, env);
}

/** A secret given inline or as a file path (the file wins); undefined when neither. */
export function secretValue(inline: string | undefined, file: string | undefined): string | undefined {
  return file ? readFileSync(file, "utf8").trim() : inline;
}

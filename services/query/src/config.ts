import { readFileSync } from "node:fs";
import { consumerEnv, natsAuthEnv, natsTlsEnv, streamEnv } from "@vigil/bus";
import { readingRulesEnv } from "@vigil/ingest";
import { forecastEnv } from "@vigil/maintenance";
import { envBool, envInt, envLogLevel, envOptionalString, envPort, parseEnvConfig } from "@vigil/runtime";
import { serverTlsEnv } from "@vigil/tls";
import { z } from "zod";
import { oidcEnv, oidcSettings } from "./auth/oidc-config.ts";
import { proxyMatcher } from "./client-address.ts";

const DAY_MS = 86_400_000;

/** Every environment variable the query service reads, with its default. */
export const queryEnv = z
  .object({
    QUERY_HOST: z.string().default("0.0.0.0"),
    QUERY_PORT: envPort(8080),
    /** HTTP port on QUERY_HOST for /metrics, /healthz and /readyz. */
    QUERY_OPS_PORT: envPort(9104),
    /** Serve gRPC server reflection (grpcurl and buf curl without proto files) on the API port. */
    QUERY_REFLECTION: envBool(false),
    /** Serve the API's description: /openapi.json (and the API reference page) on the API port. */
    QUERY_API_DOCS: envBool(false),
    DATABASE_URL: z.string().default("postgres://vigil@127.0.0.1:5432/vigil"),
    LOG_LEVEL: envLogLevel,
    ...serverTlsEnv,
    ...streamEnv,
    ...natsTlsEnv,
    ...natsAuthEnv,
    ...consumerEnv,
    ...readingRulesEnv,
    ...forecastEnv,
    /**
     * Comma-separated browser origins (scheme://host[:port]) that may call the API from their
     * pages; empty: none, only same-origin pages (the console served here) and non-browser clients.
     */
    QUERY_CORS_ORIGINS: envList().pipe(
      z.array(
        z.string().regex(/^https?:\/\/[^/\s*,]+$/, "each origin must be scheme://host[:port], with no path and no '*'"),
      ),
    ),
    /** A connection must send complete request headers (its first bytes included) within this time. */
    QUERY_HEADERS_TIMEOUT_MS: envInt(10_000, 100, 600_000),
    /** A request must arrive whole, body included, within this time (responses such as watches may last longer). */
    QUERY_REQUEST_TIMEOUT_MS: envInt(60_000, 100, 3_600_000),
    /** A connection with nothing in progress (HTTP/1.1 keep-alive, HTTP/2 without streams) is closed after this. */
    QUERY_IDLE_TIMEOUT_MS: envInt(75_000, 100, 3_600_000),
    /** Open connections one client address may hold (trusted proxies are exempt). */
    QUERY_MAX_CONNECTIONS_PER_ADDRESS: envInt(100, 1, 1_000_000),
    /** Concurrent streams one HTTP/2 connection may carry. */
    QUERY_MAX_STREAMS_PER_CONNECTION: envInt(100, 1, 10_000),
    /**
     * Comma-separated addresses and CIDR blocks of proxies (ingress controllers, load balancers)
     * whose X-Forwarded-For names the client; empty: the connection's peer is the client.
     */
    QUERY_TRUSTED_PROXIES: envList(),
    /** Largest request body, after decompression, of a method that needs signing in. */
    QUERY_MAX_REQUEST_BYTES: envInt(1_048_576, 1_024, 64 * 1_048_576),
    /** Largest request body, after decompression, of a method anyone may call (sign-in, health, reflection). */
    QUERY_MAX_PUBLIC_REQUEST_BYTES: envInt(8_192, 1_024, 1_048_576),
    /** Requests per minute one signed-in user may make (per replica); a tenth of it may come at once. */
    QUERY_USER_REQUESTS_PER_MIN: envInt(3_000, 1, 10_000_000),
    /** WatchReadings one signed-in user may hold open at once (per replica); each is a consumer on the log. */
    QUERY_MAX_WATCHES_PER_USER: envInt(10, 1, 10_000),
    /** grpc.health.v1 Health/Watch streams (anonymous) one client address may hold open at once… */
    QUERY_MAX_HEALTH_WATCHES_PER_ADDRESS: envInt(5, 1, 10_000),
    /** …and all clients together, per replica. */
    QUERY_MAX_HEALTH_WATCHES: envInt(100, 1, 1_000_000),
    /** A database statement of the query service is cancelled after this long (0: never). */
    QUERY_STATEMENT_TIMEOUT_MS: envInt(30_000, 0, 3_600_000),
    /** Batches a WatchReadings client may fall behind before it is dropped. */
    QUERY_WATCH_BUFFER_BATCHES: envInt(1_000, 1, 1_000_000),
    /** Most readings one UpdateReadings, DeleteReadings or UndeleteReadings call may change. */
    QUERY_MAX_CORRECTION_ROWS: envInt(10_000, 1, 1_000_000),
    /** Audit entries (reads of readings and stats, sign-outs) waiting to be written before requests wait for room. */
    QUERY_AUDIT_MAX_PENDING: envInt(10_000, 1, 1_000_000),
    /**
     * A read of readings or stats is answered only once its audit entry is committed (true), or as
     * soon as the entry is queued (false: less latency; a crash loses entries not yet written).
     */
    QUERY_ACCESS_LOG_WAIT: envBool(true),
    /** Most audit entries one INSERT writes (one extension of the hash chain). */
    QUERY_AUDIT_MAX_BATCH: envInt(500, 1, 10_000),
    /** Failed sign-ins are summed per username over this window, then written to the audit log. */
    AUTH_FAILED_SIGN_IN_WINDOW_MS: envInt(60_000, 1_000, 3_600_000),
    /** Usernames with their own failed sign-in entry per window; the rest are summed into one. */
    AUTH_FAILED_SIGN_IN_MAX_USERNAMES: envInt(100, 1, 100_000),
    /** The console's built files, served at /; a relative path is from the repository's root (/app in the image); empty: no console. */
    QUERY_CONSOLE_DIR: z.string().default("web/dist"),
    /** Ed25519 private JWK set signing access tokens (first key signs, all verify). Unset: a key generated at start. */
    AUTH_JWT_KEYS: envOptionalString(),
    /** A file holding AUTH_JWT_KEYS (a mounted secret); read at start. */
    AUTH_JWT_KEYS_FILE: envOptionalString(),
    AUTH_ACCESS_TOKEN_TTL_MS: envInt(15 * 60_000, 10_000, DAY_MS),
    /**
     * How long a user's token version is trusted without reading it again; changes announced over
     * NATS apply at once, this bounds how late a replica that missed one refuses a revoked token.
     */
    AUTH_TOKEN_VERSION_CACHE_MS: envInt(10_000, 0, 600_000),
    AUTH_REFRESH_TOKEN_TTL_MS: envInt(30 * DAY_MS, 60_000, 365 * DAY_MS),
    /** Anyone may register a plain user; otherwise only admins create users. */
    AUTH_OPEN_REGISTRATION: envBool(false),
    /** With open registration: accounts one client address may register per hour. */
    AUTH_REGISTRATIONS_PER_ADDRESS_PER_HOUR: envInt(10, 1, 100_000),
    /** Failed sign-ins per minute for one username from one client address… */
    AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN: envInt(10, 1, 100_000),
    /** …and from one client address, whatever the username. */
    AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN: envInt(30, 1, 100_000),
    /** Creates this admin at start when no admin exists (Kubernetes secrets); with the password below. */
    AUTH_BOOTSTRAP_ADMIN_USERNAME: envOptionalString(),
    AUTH_BOOTSTRAP_ADMIN_PASSWORD: envOptionalString(),
    AUTH_BOOTSTRAP_ADMIN_PASSWORD_FILE: envOptionalString(),
    ...oidcEnv,
  })
  .superRefine((c, ctx) => {
    if (c.QUERY_HEADERS_TIMEOUT_MS > c.QUERY_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: "custom",
        path: ["QUERY_HEADERS_TIMEOUT_MS"],
        message: "must not be longer than QUERY_REQUEST_TIMEOUT_MS",
      });
    }
    try {
      // The secret file is read at start; here only whether one is given.
      oidcSettings(c, c.OIDC_CLIENT_SECRET_FILE ? "(file)" : c.OIDC_CLIENT_SECRET);
    } catch (err) {
      const [name, ...rest] = (err as Error).message.split(": ");
      ctx.addIssue({ code: "custom", path: [name ?? "OIDC_ISSUER_URL"], message: rest.join(": ") });
    }
    try {
      proxyMatcher(c.QUERY_TRUSTED_PROXIES);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["QUERY_TRUSTED_PROXIES"], message: (err as Error).message });
    }
  });

/** A comma-separated list; empty entries dropped. */
function envList() {
  return z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    );
}

export type QueryConfig = Readonly<z.output<typeof queryEnv>>;

/** Parses the query service's configuration; throws ConfigError naming every bad variable. */
export function loadQueryConfig(env: Record<string, string | undefined>): QueryConfig {
  return parseEnvConfig(queryEnv, env);
}

/** A secret given inline or as a file path (the file wins); undefined when neither. */
export function secretValue(inline: string | undefined, file: string | undefined): string | undefined {
  return file ? readFileSync(file, "utf8").trim() : inline;
}

import { envBool, envInt, envLogLevel, parseEnvConfig } from "@vigil/runtime";
import { z } from "zod";

/** Quick-start settings; the services' own variables apply too. */
export const quickstartEnv = z.object({
  /** Embedded database by default; a postgres:// URL switches to PostgreSQL. */
  DATABASE_URL: z.string().default("embedded:.vigil/pgdata"),
  /** Empty: the in-process bus; a nats:// URL switches to JetStream. */
  NATS_URL: z.string().default(""),
  /** The lifecycle service archives raw readings past retention here before dropping them. */
  ARCHIVE_URL: z.string().default("file:.vigil/archive"),
  /**
   * Where the receiver and the query service listen (RECEIVER_HOST / QUERY_HOST, when set, win):
   * this machine only by default; 0.0.0.0 opens both to the network.
   */
  QUICKSTART_HOST: z.string().default("127.0.0.1"),
  /** Simulated devices started with the platform (0: none). */
  QUICKSTART_DEVICES: envInt(5, 0, 10_000),
  /** Where the quick start keeps its admin password and token-signing key. */
  QUICKSTART_STATE_DIR: z.string().default(".vigil"),
  /**
   * Load the demo fleet's history first (`vigil demo seed`): "ROBOTS/SITES/DAYS", "true" for
   * 10/3/365, empty or "false" for none. Idempotent: later starts only add the new days.
   */
  QUICKSTART_DEMO_SEED: z
    .string()
    .default("")
    .transform((v) => (v === "true" ? "10/3/365" : v === "false" ? "" : v))
    .refine((v) => v === "" || /^[1-9]\d{0,3}\/[1-9]\d{0,2}\/[1-9]\d{0,3}$/.test(v), {
      message: 'must be ROBOTS/SITES/DAYS such as 10/3/365, "true" or "false"',
    }),
  /** With a demo seed: this many of its robots also run live, performing procedures recorded through the API. */
  QUICKSTART_DEMO_LIVE_ROBOTS: envInt(3, 0, 1_000),
  /** Serve TLS on both ports with a development CA kept in <state dir>/tls (ca.pem is what clients trust). */
  QUICKSTART_TLS: envBool(false),
  /** Quieter than the services' default, so the banner stays readable. */
  LOG_LEVEL: envLogLevel.default("warn"),
});

export type QuickstartConfig = Readonly<z.output<typeof quickstartEnv>>;

export function loadQuickstartConfig(env: Record<string, string | undefined>): QuickstartConfig {
  return parseEnvConfig(quickstartEnv, env);
}

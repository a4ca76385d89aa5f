import { envInt, envLogLevel, parseEnvConfig } from "@vigil/runtime";
import { z } from "zod";

/** Quick-start settings; the services' own variables apply too. */
export const quickstartEnv = z.object({
  /** Embedded database by default; a postgres:// URL switches to PostgreSQL. */
  DATABASE_URL: z.string().default("embedded:.vigil/pgdata"),
  /** Empty: the in-process bus; a nats:// URL switches to JetStream. */
  NATS_URL: z.string().default(""),
  /** The maintainer archives raw readings past retention here before dropping them. */
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
  /** Quieter than the services' default, so the banner stays readable. */
  LOG_LEVEL: envLogLevel.default("warn"),
});

export type QuickstartConfig = Readonly<z.output<typeof quickstartEnv>>;

export function loadQuickstartConfig(env: Record<string, string | undefined>): QuickstartConfig {
  return parseEnvConfig(quickstartEnv, env);
}

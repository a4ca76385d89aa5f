// Loads vitest's types into every program that includes this file (bench has no test of its own), so
// the augmentation below has a module to augment; erased at run time.
import type {} from "vitest";

/** What the integration project's global setup hands to tests through vitest's inject(). */
declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the private PostgreSQL server. */
    postgresUrl: string;
    /** URL of the private nats-server with JetStream. */
    natsUrl: string;
    /**
     * Superuser URL of the private PostgreSQL with TimescaleDB preloaded, or ""
     * when no TimescaleDB build is available here (see timescaleServer(url)).
     */
    timescaleUrl: string;
  }
}

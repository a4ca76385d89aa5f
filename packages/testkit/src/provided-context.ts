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

export {};

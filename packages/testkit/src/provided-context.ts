/** What the integration project's global setup hands to tests through vitest's inject(). */
declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the private PostgreSQL server. */
    postgresUrl: string;
    /** URL of the private nats-server with JetStream. */
    natsUrl: string;
  }
}

export {};

import type { TestProject } from "vitest/node";
import { type NatsServer, startNats } from "./nats-server.ts";
import { type PostgresServer, startPostgres } from "./postgres-server.ts";

import "./provided-context.ts";

let postgres: PostgresServer | undefined;
let nats: NatsServer | undefined;

/**
 * Starts one private PostgreSQL and one nats-server for the integration
 * project, in temp dirs on free ports; tests create their own databases
 * (createTestDatabase) and JetStream streams on them. Stopped after.
 */
export async function setup(project: TestProject): Promise<void> {
  [postgres, nats] = await Promise.all([startPostgres({ fast: true }), startNats()]);
  project.provide("postgresUrl", postgres.url);
  project.provide("natsUrl", nats.url);
}

export async function teardown(): Promise<void> {
  await Promise.all([postgres?.stop(), nats?.destroy()]);
}

import { createTestDatabase } from "@vigil/testkit";
import { inject } from "vitest";
import { type Pipeline, resetJetStream, startPipeline } from "./pipeline.ts";

/**
 * The pipeline one test file runs against: the shared nats-server with
 * JetStream emptied, and a fresh database on the shared PostgreSQL (or
 * `databaseUrl`, such as the embedded engine).
 */
export async function startTestPipeline(
  options: { env?: Record<string, string>; databaseUrl?: string; componentRoles?: boolean } = {},
): Promise<Pipeline> {
  const natsUrl = inject("natsUrl");
  await resetJetStream(natsUrl);
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(inject("postgresUrl")));
  return startPipeline({ databaseUrl, natsUrl, env: options.env, componentRoles: options.componentRoles });
}

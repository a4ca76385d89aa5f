import type { TestProject } from "vitest/node";
import { ensureTools } from "./ensure-tools.ts";
import { type NatsServer, startNats } from "./nats-server.ts";
import { type PostgresServer, startPostgres, timescaledbBinDir } from "./postgres-server.ts";
import { TIMESCALEDB_MISSING } from "./timescale-server.ts";

import "./provided-context.ts";

let postgres: PostgresServer | undefined;
let timescale: PostgresServer | undefined;
let nats: NatsServer | undefined;

/**
 * Starts one private PostgreSQL, one PostgreSQL with TimescaleDB (the private
 * build in .tools/timescaledb, installed first when its source is here) and one
 * nats-server for the integration project, in temp dirs on free ports; tests
 * create their own databases (createTestDatabase) and JetStream streams on them.
 * Without a TimescaleDB build the tests that need one skip, and this says so
 * once. Stopped after.
 */
export async function setup(project: TestProject): Promise<void> {
  if (!timescaledbBinDir()) ensureTools(["timescaledb"]);
  const withTimescale = timescaledbBinDir() !== undefined;
  if (!withTimescale) process.stderr.write(`\n${TIMESCALEDB_MISSING}\n\n`);
  [postgres, nats, timescale] = await Promise.all([
    startPostgres({ fast: true }),
    startNats(),
    withTimescale ? startPostgres({ fast: true, timescaledb: "preloaded" }) : undefined,
  ]);
  project.provide("postgresUrl", postgres.url);
  project.provide("natsUrl", nats.url);
  project.provide("timescaleUrl", timescale?.url ?? "");
}

export async function teardown(): Promise<void> {
  await Promise.all([postgres?.stop(), nats?.destroy(), timescale?.stop()]);
}

import { Writable } from "node:stream";
import { createAlerterApp, loadAlerterConfig } from "@vigil/alerter";
import { migrateToLatest, openDatabase } from "@vigil/db";
import { createLifecycleApp, loadLifecycleConfig } from "@vigil/lifecycle";
import { createQueryApp, loadQueryConfig, TokenSigner } from "@vigil/query";
import { createLogger } from "@vigil/runtime";
import { createTestDatabase, waitFor } from "@vigil/testkit";
import { createWriterApp, loadWriterConfig } from "@vigil/writer";
import { afterAll, describe, expect, inject, it } from "vitest";
import { resetJetStream } from "./pipeline.ts";

/**
 * Issue 19: the chart's bundled database is migrated by a Job that runs beside
 * the services' pods, so each service may start before its tables exist. Each
 * must then stay up (alive on its ops port), not ready, and say what it waits
 * for, and become ready once the migrations ran: not crash (the alerter used
 * to exit on "relation alert_rules does not exist").
 */
describe("services started on an empty database", () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  });

  it("stay alive and not ready until the migrations run, then become ready", async () => {
    const natsUrl = inject("natsUrl");
    await resetJetStream(natsUrl);
    const databaseUrl = await createTestDatabase(inject("postgresUrl"));
    const lines: string[] = [];
    const logger = (name: string) =>
      createLogger({
        name,
        level: "info",
        destination: new Writable({
          write(chunk, _enc, done) {
            lines.push(String(chunk));
            done();
          },
        }),
      });
    const common = { DATABASE_URL: databaseUrl, NATS_URL: natsUrl };
    const apps = {
      alerter: createAlerterApp(
        loadAlerterConfig({ ...common, ALERTER_OPS_PORT: "0", ALERTER_OPS_HOST: "127.0.0.1", ALERTER_PARTITIONS: "2" }),
        { logger: logger("alerter") },
      ),
      writer: createWriterApp(loadWriterConfig({ ...common, WRITER_OPS_PORT: "0", WRITER_OPS_HOST: "127.0.0.1" }), {
        logger: logger("writer"),
      }),
      query: createQueryApp(
        loadQueryConfig({
          ...common,
          QUERY_PORT: "0",
          QUERY_OPS_PORT: "0",
          QUERY_HOST: "127.0.0.1",
          AUTH_JWT_KEYS: JSON.stringify({ keys: [await TokenSigner.generateJwk()] }),
        }),
        { logger: logger("query") },
      ),
      lifecycle: createLifecycleApp(
        loadLifecycleConfig({ ...common, LIFECYCLE_OPS_PORT: "0", LIFECYCLE_OPS_HOST: "127.0.0.1" }),
        { logger: logger("lifecycle"), firstRunDelayMs: 3_600_000 },
      ),
    };
    let failed: unknown;
    const started = Object.entries(apps).map(([name, app]) => {
      stops.push(() => app.stop());
      return app.start().then(
        () => name,
        (err) => {
          failed = err;
          throw err;
        },
      );
    });
    const settled = new Set<string>();
    for (const s of started) void s.then((name) => settled.add(name)).catch(() => {});

    const ops = (app: { opsPort: number }, path: string) =>
      fetch(`http://127.0.0.1:${app.opsPort}${path}`, { signal: AbortSignal.timeout(5_000) }).then((r) => r.status);
    await waitFor("every ops port up", async () => Object.values(apps).every((a) => a.opsPort > 0), 30_000);
    // Several checks of the schema later: still waiting, alive, not ready, nothing crashed.
    await waitFor(
      "each service saying it waits for its schema, twice",
      async () =>
        ["alerter", "writer", "query service", "lifecycle service"].every(
          (c) => lines.filter((l) => l.includes(`"waiting for the database schema: the ${c} needs tables`)).length >= 2,
        ),
      30_000,
    );
    expect(failed).toBeUndefined();
    expect(settled.size).toBe(0);
    for (const app of Object.values(apps)) {
      expect(await ops(app, "/healthz")).toBe(200);
      expect(await ops(app, "/readyz")).toBe(503);
    }
    const waitLine = JSON.parse(lines.find((l) => l.includes('"service":"alerter"') && l.includes("waiting"))!);
    expect(waitLine).toMatchObject({ level: "warn", component: "alerter" });
    expect(waitLine.missing).toContain("alert_rules");
    expect(waitLine.retryInMs).toBeGreaterThan(0);

    const database = await openDatabase(databaseUrl);
    stops.push(() => database.close());
    await migrateToLatest(database.db);

    // The backoff is capped at 15 s (±20 %): every service is through within a minute.
    expect((await Promise.all(started)).sort()).toEqual(["alerter", "lifecycle", "query", "writer"]);
    for (const [name, app] of Object.entries(apps)) {
      await waitFor(`${name} ready`, async () => (await ops(app, "/readyz")) === 200, 30_000);
    }
    expect(lines.filter((l) => l.includes("database schema present: starting")).length).toBe(4);
    expect(apps.alerter.partitions.length).toBeGreaterThan(0);
    // The query API answers only now, and with the real schema behind it.
    const health = await fetch(`http://127.0.0.1:${apps.query.port}/readyz`);
    expect(health.status).toBe(200);
    // The lifecycle service decided its engine after the migrations: it logged it once, started.
    expect(lines.filter((l) => l.includes('"lifecycle started"')).length).toBe(1);
  });

  it("stops at once while it still waits", async () => {
    const databaseUrl = await createTestDatabase(inject("postgresUrl"));
    const app = createWriterApp(
      loadWriterConfig({
        DATABASE_URL: databaseUrl,
        NATS_URL: inject("natsUrl"),
        WRITER_OPS_PORT: "0",
        WRITER_OPS_HOST: "127.0.0.1",
      }),
      { logger: createLogger({ name: "writer", level: "silent" }) },
    );
    const starting = app.start();
    await waitFor("ops port", async () => app.opsPort > 0, 30_000);
    const t0 = performance.now();
    await app.stop();
    await starting;
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(await app.ready()).toBe(false);
  });
});

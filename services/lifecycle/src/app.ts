import { type ArchiveStore, openArchiveStore } from "@vigil/archive";
import {
  hasTimescale,
  openDatabase,
  pingDatabase,
  reconcilePolicies,
  type VigilDatabase,
  waitForSchema,
} from "@vigil/db";
import { forecastSettings } from "@vigil/maintenance";
import type { App, Logger } from "@vigil/runtime";
import { metricsRegistry, type OpsServer, startOpsServer } from "@vigil/telemetry";
import { type CertificateFiles, serverTransport } from "@vigil/tls";
import { type LifecycleConfig, lifecycleSettings } from "./config.ts";
import { emptyMetrics, type LifecycleMetrics } from "./lifecycle-metrics.ts";
import { exposeLifecycleMetrics } from "./lifecycle-prometheus.ts";
import { type LifecycleContext, type RunOptions, runLifecycle } from "./lifecycle-run.ts";

/**
 * The tables the lifecycle service works on: it waits for them (not ready) before it starts, so it
 * also learns whether the migrations made the database a TimescaleDB one before it decides.
 */
export const LIFECYCLE_TABLES = [
  "readings",
  "devices",
  "dead_letters",
  "alerts",
  "maintenance_forecasts",
  "archive_holds",
] as const;

export interface LifecycleDeps {
  logger: Logger;
  /** Shared database (quick start, tests); opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  /** Archive store; opened from ARCHIVE_URL when absent. */
  store?: ArchiveStore;
  /** Delay before the first run (the quick start lets the other services settle first). */
  firstRunDelayMs?: number;
  /** Serve /metrics, /healthz and /readyz on LIFECYCLE_OPS_PORT (default); the quick start serves them itself. */
  opsServer?: boolean;
}

export interface LifecycleApp extends App {
  readonly metrics: Readonly<LifecycleMetrics>;
  /** The bound ops port (0 when not serving one). */
  readonly opsPort: number;
  /** Runs the lifecycle now (tests, the CLI); false when another replica holds the lock. */
  runOnce(options?: RunOptions): Promise<boolean>;
}

/**
 * Keeps the readings lifecycle going: aggregates, partitions, compression,
 * retention and the archive, every LIFECYCLE_INTERVAL_MS. Any number of
 * replicas may run; one at a time does the work.
 */
export function createLifecycleApp(config: LifecycleConfig, deps: LifecycleDeps): LifecycleApp {
  const log = deps.logger;
  const metrics = emptyMetrics();
  let database = deps.database;
  let ctx: LifecycleContext | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;
  /** Set once start() has finished: /readyz says no while it waits for its schema. */
  let serving = false;
  const shutdown = new AbortController();
  let ops: OpsServer | undefined;
  let tls: CertificateFiles | undefined;
  const unexpose = exposeLifecycleMetrics(metrics);

  const runOnce = async (options?: RunOptions) => {
    if (!ctx) throw new Error("lifecycle not started");
    const run = runLifecycle(ctx, options);
    running = run.catch(() => {});
    return run;
  };

  const schedule = (delay: number) => {
    if (stopped) return;
    timer = setTimeout(async () => {
      try {
        await runOnce();
      } catch (err) {
        metrics.failures++;
        log.error({ err }, "lifecycle run failed");
      }
      schedule(config.LIFECYCLE_INTERVAL_MS);
    }, delay);
    timer.unref();
  };

  return {
    metrics,
    runOnce,
    get opsPort() {
      return ops?.port ?? 0;
    },

    async start() {
      // Before anything connects: refuse plaintext where it must not be served.
      tls = await serverTransport(
        config,
        deps.opsServer !== false ? [{ host: config.LIFECYCLE_OPS_HOST, what: "the lifecycle service's ops port" }] : [],
        log,
      );
      database ??= await openDatabase(config.DATABASE_URL, { applicationName: "vigil-lifecycle", maxConnections: 3 });
      const db = database.db;
      // The ops port answers from here on (alive, not ready), while the service waits for its schema.
      if (deps.opsServer !== false) {
        ops = await startOpsServer({
          host: config.LIFECYCLE_OPS_HOST,
          port: config.LIFECYCLE_OPS_PORT,
          registry: metricsRegistry(),
          ready: async () => serving && !stopped && (await pingDatabase(db)),
          tls,
        });
      }
      const schema = await waitForSchema(db, {
        component: "lifecycle service",
        tables: LIFECYCLE_TABLES,
        log,
        signal: shutdown.signal,
      });
      if (!schema) return;
      const timescale = await hasTimescale(database.db);
      const settings = lifecycleSettings(config);
      if (timescale) {
        const changed = await reconcilePolicies(database.db, settings);
        if (changed.length > 0) log.info({ changed }, "TimescaleDB policies updated to the configuration");
      }
      const store =
        deps.store ??
        (config.ARCHIVE_URL
          ? openArchiveStore(config.ARCHIVE_URL, {
              endpoint: config.ARCHIVE_S3_ENDPOINT,
              region: config.ARCHIVE_S3_REGION,
              forcePathStyle: config.ARCHIVE_S3_FORCE_PATH_STYLE,
            })
          : undefined);
      if (!store) log.warn("ARCHIVE_URL is not set: readings past retention stay in the database");
      ctx = {
        database,
        timescale,
        settings,
        store,
        log,
        metrics,
        lastJobRuns: new Map(),
        forecasts: { settings: forecastSettings(config), intervalMs: config.FORECAST_INTERVAL_MS },
        deadLetterRetentionMs: config.DEAD_LETTERS_RETENTION_MS,
      };
      schedule(deps.firstRunDelayMs ?? 1_000);
      serving = true;
      log.info(
        {
          engine: timescale ? "timescaledb" : "postgresql",
          archive: store?.location ?? null,
          every: config.LIFECYCLE_INTERVAL_MS,
        },
        "lifecycle started",
      );
    },

    async stop() {
      stopped = true;
      shutdown.abort();
      clearTimeout(timer);
      await running;
      await ops?.close();
      tls?.close();
      unexpose();
      if (!deps.database) await database?.close();
      log.info(metrics, "lifecycle stopped");
    },
  };
}

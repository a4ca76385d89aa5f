import {
  type BatchConsumer,
  connectJetStreamBus,
  consumerSettings,
  type Delivery,
  natsAccess,
  type ReadingBus,
  streamSettings,
} from "@vigil/bus";
import { openDatabase, pingDatabase, type VigilDatabase, waitForSchema } from "@vigil/db";
import type { App, Logger } from "@vigil/runtime";
import { metricsRegistry, type OpsServer, startOpsServer } from "@vigil/telemetry";
import { type CertificateFiles, serverTransport } from "@vigil/tls";
import { BatchAccumulator } from "./batch-accumulator.ts";
import type { WriterConfig } from "./config.ts";
import { ReadingWriter } from "./reading-writer.ts";
import { readingsStore } from "./readings-store.ts";
import { SensorDictionary } from "./sensor-dictionary.ts";
import { trackBacklog, writerMetrics } from "./writer-metrics.ts";

/** The tables the writer uses: it waits for them (not ready, not consuming) before it joins the consumer. */
export const WRITER_TABLES = ["devices", "sensors", "readings", "dead_letters"] as const;

export interface WriterDeps {
  logger: Logger;
  /** Shared bus (quick start, tests); opened from NATS_URL when absent. */
  bus?: ReadingBus;
  /** Shared database; opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  /** Serve /metrics, /healthz and /readyz on WRITER_OPS_PORT (default); the quick start serves them itself. */
  opsServer?: boolean;
}

export interface WriterStats {
  batches: number;
  readings: number;
  inserted: number;
  deadLettered: number;
}

export interface WriterApp extends App {
  readonly stats: Readonly<WriterStats>;
  /** The bound ops port (0 when not serving one). */
  readonly opsPort: number;
  /** Ready: its schema is there, it consumes, and the database and NATS answer. */
  ready(): Promise<boolean>;
}

/**
 * Joins the shared durable consumer and writes batches to PostgreSQL in
 * groups of up to WRITER_MAX_BATCH_ROWS readings, acking each message after
 * its group commits. Any number of writers can share the consumer.
 */
export function createWriterApp(config: WriterConfig, deps: WriterDeps): WriterApp {
  const log = deps.logger;
  const stats: WriterStats = { batches: 0, readings: 0, inserted: 0, deadLettered: 0 };
  const stopping = new AbortController();
  /** Aborted as soon as stop() is called (stopping waits for the last groups first). */
  const shutdown = new AbortController();
  /** Set once start() has finished: /readyz says no while the writer waits for its schema. */
  let serving = false;
  let bus = deps.bus;
  let database = deps.database;
  let consumer: BatchConsumer | undefined;
  let loop: Promise<void> | undefined;
  let ops: OpsServer | undefined;
  let tls: CertificateFiles | undefined;
  let untrack: (() => void) | undefined;

  async function ready(): Promise<boolean> {
    if (!serving || stopping.signal.aborted || !bus || !database) return false;
    return bus.isConnected() && (await pingDatabase(database.db));
  }

  async function run(writer: ReadingWriter, source: BatchConsumer): Promise<void> {
    const accumulator = new BatchAccumulator<Delivery>({
      maxWeight: config.WRITER_MAX_BATCH_ROWS,
      maxWaitMs: config.WRITER_FLUSH_INTERVAL_MS,
      concurrency: config.WRITER_CONCURRENCY,
      flush: async (group) => {
        try {
          const outcome = await writer.write(group, stopping.signal);
          stats.batches += group.length;
          stats.readings += outcome.readings;
          stats.inserted += outcome.inserted;
          stats.deadLettered += outcome.deadLettered;
        } catch (err) {
          // Stopping with the database down, or a bug: let JetStream redeliver.
          if (!stopping.signal.aborted) log.error({ err }, "write failed, batches will be redelivered");
          for (const d of group) d.nak(1_000);
        }
      },
    });
    try {
      for await (const delivery of source) {
        // Weight by payload size: about 9 bytes per reading on the wire.
        await accumulator.add(delivery, Math.max(1, Math.round(delivery.payload.length / 9)));
      }
    } finally {
      await accumulator.drain();
    }
  }

  return {
    stats,
    get opsPort() {
      return ops?.port ?? 0;
    },
    ready,

    async start() {
      // Before anything connects: refuse plaintext where it must not be served.
      tls = await serverTransport(
        config,
        deps.opsServer !== false ? [{ host: config.WRITER_OPS_HOST, what: "the writer's ops port" }] : [],
        log,
      );
      database ??= await openDatabase(config.DATABASE_URL, {
        applicationName: "vigil-writer",
        maxConnections: config.WRITER_CONCURRENCY + 1,
      });
      // The ops port answers from here on (alive, not ready), while the writer waits for its schema:
      // consuming before the tables exist would only send every batch round the redelivery loop.
      if (deps.opsServer !== false) {
        ops = await startOpsServer({
          host: config.WRITER_OPS_HOST,
          port: config.WRITER_OPS_PORT,
          registry: metricsRegistry(),
          ready,
          tls,
        });
      }
      const schema = await waitForSchema(database.db, {
        component: "writer",
        tables: WRITER_TABLES,
        log,
        signal: shutdown.signal,
      });
      if (!schema) return;
      bus ??= await connectJetStreamBus({
        ...natsAccess(config, "writer"),
        servers: config.NATS_URL,
        name: "vigil-writer",
        stream: streamSettings(config),
        consumer: consumerSettings(config),
        ownsConsumer: true,
        publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
      });
      const readyBus = bus;
      untrack = trackBacklog(() => readyBus.backlog());
      const metrics = writerMetrics();
      const writer = new ReadingWriter(
        database.db,
        readingsStore(database, () => metrics.copyFallbacks.inc()),
        new SensorDictionary(database.db),
        log,
        config.NATS_MAX_DELIVER,
        metrics,
      );
      consumer = bus.consume({ prefetch: config.WRITER_PREFETCH });
      loop = run(writer, consumer).catch((err) => {
        log.fatal({ err }, "consumer loop failed");
        throw err;
      });
      serving = true;
      log.info({ consumer: config.NATS_CONSUMER, opsPort: ops?.port }, "writer consuming");
    },

    async stop() {
      shutdown.abort();
      await consumer?.stop();
      // Let the last groups commit; a database that is down gets a bounded wait.
      const abort = setTimeout(() => stopping.abort(), 5_000);
      await loop?.catch(() => {});
      clearTimeout(abort);
      stopping.abort();
      untrack?.();
      await ops?.close();
      tls?.close();
      if (!deps.bus) await bus?.close();
      if (!deps.database) await database?.close();
      log.info(stats, "writer stopped");
    },
  };
}

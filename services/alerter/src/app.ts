import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type AppliedTransitions, ensureExternalRule, type Transition } from "@vigil/alerts";
import {
  type AlertFeed,
  connectJetStreamBus,
  consumerSettings,
  feedSettings,
  natsAccess,
  type ReadingBus,
  retryWhileUnavailable,
  streamSettings,
} from "@vigil/bus";
import { openDatabase, pingDatabase, type VigilDatabase, waitForSchema } from "@vigil/db";
import type { App, Logger } from "@vigil/runtime";
import { metricsRegistry, type OpsServer, startOpsServer } from "@vigil/telemetry";
import { type CertificateFiles, serverTransport } from "@vigil/tls";
import { alerterMetrics, countAlertsByState } from "./alerter-metrics.ts";
import { channelSenders } from "./channels/senders.ts";
import { type AlerterConfig, cidrList } from "./config.ts";
import { DeliveryWorker } from "./delivery-worker.ts";
import { PartitionLeases } from "./partition-leases.ts";
import { PartitionWorker } from "./partition-worker.ts";
import { RuleBook } from "./rule-book.ts";

/** The tables the alerter reads and writes: it waits for them (not ready) before it starts evaluating. */
export const ALERTER_TABLES = [
  "devices",
  "alert_rules",
  "alerts",
  "silences",
  "notification_channels",
  "alert_deliveries",
  "alerter_members",
  "alerter_partitions",
] as const;

export interface AlerterDeps {
  logger: Logger;
  /** Shared bus (quick start, tests); opened from NATS_URL when absent. */
  bus?: ReadingBus;
  /** Shared database; opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  /** Serve /metrics, /healthz and /readyz on ALERTER_OPS_PORT (default); the quick start serves them itself. */
  opsServer?: boolean;
  /** This replica's name among the alerters (default: host, process and a random suffix). */
  member?: string;
  /** Also tells a person about every alert raised and resolved (the quick start prints them). */
  announce?: (line: string) => void;
}

export interface AlerterApp extends App {
  readonly member: string;
  /** Partitions this replica evaluates now. */
  readonly partitions: number[];
  readonly opsPort: number;
  ready(): Promise<boolean>;
  /** Wakes the delivery worker (a test channel was queued in this process). */
  nudgeDeliveries(): void;
}

/**
 * Evaluates alert rules on the readings' own times and sends the
 * notifications: reads the alerters' feed (a copy of the readings that
 * never holds ingest back), splits its partitions with the other replicas
 * by lease, commits alerts and checkpoints fenced by the lease, and sends
 * queued deliveries (webhooks, email) at least once.
 */
export function createAlerterApp(config: AlerterConfig, deps: AlerterDeps): AlerterApp {
  const log = deps.logger;
  const member = deps.member ?? `${hostname()}-${randomBytes(4).toString("hex")}`;
  const metrics = alerterMetrics();
  let bus = deps.bus;
  let database = deps.database;
  let feed: AlertFeed | undefined;
  let rules: RuleBook | undefined;
  let leases: PartitionLeases | undefined;
  let deliveries: DeliveryWorker | undefined;
  let ops: OpsServer | undefined;
  let tls: CertificateFiles | undefined;
  let refresher: NodeJS.Timeout | undefined;
  let stopping = false;
  /** Set once start() has finished: /readyz says no until the schema is there and every part runs. */
  let serving = false;
  const shutdown = new AbortController();
  const workers = new Map<number, PartitionWorker>();
  let gapRule: Promise<number> | undefined;

  async function ready(): Promise<boolean> {
    if (!serving || stopping || !bus || !database) return false;
    return bus.isConnected() && (await pingDatabase(database.db));
  }

  function committed(applied: AppliedTransitions, transitions: Transition[]): void {
    metrics.transitions.inc({ type: "fire" }, applied.fired.length);
    metrics.transitions.inc({ type: "resolve" }, applied.resolved.length);
    if (applied.deliveries > 0) deliveries?.nudge();
    if (!config.ALERTER_LOG_ALERTS && !deps.announce) return;
    // Only what this commit changed (a replay's repeats are not news).
    transitions.forEach((t, i) => {
      if (!applied.changed[i]) return;
      const line =
        t.type === "fire"
          ? `ALERT ${t.severity.toUpperCase()} ${t.summary}`
          : `RESOLVED ${t.label ?? `rule ${t.ruleId}`}: ${t.reason}`;
      if (config.ALERTER_LOG_ALERTS) log.info({ rule: t.ruleId, device: t.deviceId, sensor: t.sensor }, line);
      deps.announce?.(line);
    });
  }

  function startWorker(partition: number, epoch: number): void {
    if (!database || !feed || !rules) return;
    const db = database.db;
    const worker = new PartitionWorker(partition, epoch, {
      db,
      feed,
      rules,
      log,
      metrics,
      member,
      checkpointIntervalMs: config.ALERTER_CHECKPOINT_INTERVAL_MS,
      absenceGraceMs: config.ALERTER_ABSENCE_GRACE_MS,
      deliveryDeadlineMs: config.ALERTER_DELIVERY_DEADLINE_MS,
      gapRuleId: () => {
        gapRule ??= ensureExternalRule(
          { db, actor: "system:alerter" },
          {
            source: "alerter",
            name: "Alerter gap",
            description: "Readings the alerters could not evaluate: they were away longer than the feed keeps batches.",
            severity: "warning",
          },
        ).then((r) => r.id);
        return gapRule;
      },
      committed,
    });
    workers.set(partition, worker);
    metrics.partitionsOwned.set(workers.size);
    void worker.start();
  }

  async function stopWorker(partition: number): Promise<void> {
    const worker = workers.get(partition);
    workers.delete(partition);
    metrics.partitionsOwned.set(workers.size);
    await worker?.stop();
  }

  return {
    get member() {
      return member;
    },
    get partitions() {
      return [...workers.keys()].sort((a, b) => a - b);
    },
    get opsPort() {
      return ops?.port ?? 0;
    },
    ready,
    nudgeDeliveries: () => deliveries?.nudge(),

    async start() {
      // Before anything connects: refuse plaintext where it must not be served.
      tls = await serverTransport(
        config,
        deps.opsServer !== false ? [{ host: config.ALERTER_OPS_HOST, what: "the alerter's ops port" }] : [],
        log,
      );
      database ??= await openDatabase(config.DATABASE_URL, { applicationName: "vigil-alerter", maxConnections: 8 });
      // The ops port answers from here on (alive, not ready), while the alerter waits for its schema.
      if (deps.opsServer !== false) {
        ops = await startOpsServer({
          host: config.ALERTER_OPS_HOST,
          port: config.ALERTER_OPS_PORT,
          registry: metricsRegistry(),
          ready,
          tls,
        });
      }
      const schema = await waitForSchema(database.db, {
        component: "alerter",
        tables: ALERTER_TABLES,
        log,
        signal: shutdown.signal,
      });
      if (!schema) return;
      bus ??= await connectJetStreamBus({
        ...natsAccess(config, "alerter"),
        servers: config.NATS_URL,
        name: "vigil-alerter",
        stream: streamSettings(config),
        consumer: consumerSettings(config),
        publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
      });
      const db = database.db;
      const feedBus = bus;
      // Right after a NATS cluster starts, creating the feed (R3, sourced from the readings) can time
      // out while the servers elect leaders: wait that out, not ready, instead of exiting.
      feed = await retryWhileUnavailable(() => feedBus.openFeed(feedSettings(config)), {
        what: "open the alerters' feed",
        log,
        signal: shutdown.signal,
      });
      const book = new RuleBook(db);
      rules = book;
      await book.refresh({ devicesEveryMs: 0, forceDevices: true });
      metrics.sources.lagSeconds = () => Math.max(0, ...[...workers.values()].map((w) => w.lagSeconds));
      metrics.sources.series = () => [...workers.values()].reduce((n, w) => n + w.seriesCount, 0);
      metrics.sources.alertsByState = () => countAlertsByState(db);
      refresher = setInterval(() => {
        void book
          .refresh({ devicesEveryMs: 10_000 })
          .then((changed) => {
            if (!changed) return;
            const active = new Set(book.activeRuleKeys());
            for (const w of workers.values()) w.prune(active);
          })
          .catch((err) => log.warn({ err }, "could not re-read rules"));
      }, config.ALERTER_RULES_REFRESH_MS);
      refresher.unref();

      deliveries = new DeliveryWorker({
        db,
        senders: channelSenders({
          webhook: {
            allowPrivate: config.ALERTER_WEBHOOK_ALLOW_PRIVATE,
            allowedCidrs: cidrList(config.ALERTER_WEBHOOK_ALLOWED_CIDRS),
            timeoutMs: config.ALERTER_WEBHOOK_TIMEOUT_MS,
          },
          smtpUrl: config.ALERTER_SMTP_URL,
          smtpFrom: config.ALERTER_SMTP_FROM,
        }),
        log,
        metrics,
        concurrency: config.ALERTER_DELIVERY_CONCURRENCY,
        maxBackoffMs: config.ALERTER_DELIVERY_MAX_BACKOFF_MS,
        lockMs: config.ALERTER_WEBHOOK_TIMEOUT_MS * 3,
        pollMs: 500,
      });
      deliveries.start();

      leases = new PartitionLeases({
        db,
        member,
        partitions: config.ALERTER_PARTITIONS,
        ttlMs: config.ALERTER_LEASE_TTL_MS,
        log,
        callbacks: {
          acquired: (partition, epoch) => startWorker(partition, epoch),
          releasing: (partition) => stopWorker(partition),
          lost: (partition) => {
            const worker = workers.get(partition);
            workers.delete(partition);
            metrics.partitionsOwned.set(workers.size);
            void worker?.stop();
          },
        },
      });
      await leases.start();
      serving = true;
      log.info(
        {
          member,
          partitions: config.ALERTER_PARTITIONS,
          owned: this.partitions,
          rules: book.ruleCount,
          opsPort: ops?.port,
        },
        "alerter evaluating",
      );
    },

    async stop() {
      stopping = true;
      shutdown.abort();
      clearInterval(refresher);
      // Workers commit and checkpoint, then their leases go back: the others take over at once.
      await leases?.stop();
      for (const partition of [...workers.keys()]) await stopWorker(partition);
      await deliveries?.stop();
      await ops?.close();
      tls?.close();
      if (!deps.bus) await bus?.close();
      if (!deps.database) await database?.close();
      log.info({ member }, "alerter stopped");
    },
  };
}

import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
  type StreamConfig,
} from "@nats-io/jetstream";
import {
  type MsgHdrs,
  type NatsConnection,
  nanos,
  headers as natsHeaders,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import {
  type AlertFeed,
  FEED_STREAM_NAME,
  FEED_SUBJECT_PREFIX,
  type FeedMessage,
  type FeedReader,
  type FeedSettings,
} from "./alert-feed.ts";
import type { NatsTls } from "./bus-config.ts";
import { type DeviceEvents, natsDeviceEvents } from "./device-events.ts";
import type { NatsAuth } from "./nats-auth.ts";
import { type NatsComponent, natsInboxPrefix } from "./permissions.ts";
import type {
  AppendResult,
  Backlog,
  BatchConsumer,
  BatchWatch,
  ConsumeOptions,
  Delivery,
  DeviceAddress,
  OutgoingBatch,
  ReadingBus,
  StoredBatch,
  WatchFilter,
} from "./reading-bus.ts";
import {
  batchMessageId,
  DEVICE_ID_HEADER,
  deviceSubject,
  parseDeviceSubject,
  SEQ_HEADER,
  STREAM_NAME,
  SUBJECT_PREFIX,
  watchSubject,
} from "./subjects.ts";
import { natsUserEvents, type UserEvents } from "./user-events.ts";

export interface JetStreamBusOptions {
  /** Comma-separated NATS URLs. */
  servers: string;
  /** Connection name shown by the server, such as "vigil-receiver". */
  name: string;
  /** TLS to the servers (NATS_TLS_*); unset: what the server asks for, with the system's roots. */
  tls?: NatsTls;
  /** Credentials (NATS_USER, NATS_PASSWORD_FILE); unset: none. */
  auth?: NatsAuth;
  /** Which component connects: its replies arrive on its own inbox prefix (permissions.ts). */
  component?: NatsComponent;
  /**
   * false: the streams and the writers' consumer are set up by the admin
   * user (`vigil nats setup`); this connection only waits up to
   * `setupWaitMs` for them to exist, and never creates or changes them.
   * Default true: create or update them (a NATS without per-component users).
   */
  manageStreams?: boolean;
  setupWaitMs?: number;
  /**
   * Create the stream or bring it to these settings (receivers and writers,
   * which share the same configuration). Omitted: the stream must exist
   * and is left as it is (operator tools).
   */
  stream?: StreamSettings;
  /**
   * The writers' durable consumer. Receivers create it too: with interest
   * retention a batch published before any consumer exists would be dropped.
   * Omitted: left as it is.
   */
  consumer?: ConsumerSettings;
  /** Update an existing consumer's settings (writers) or only create it when missing (receivers). */
  ownsConsumer?: boolean;
  /** How long an append waits for the PubAck. */
  publishTimeoutMs: number;
}

export interface StreamSettings {
  /** Unconsumed batches older than this are removed (0: never; anything else can lose acked data). */
  maxAgeMs: number;
  /** Backlog limit in bytes (-1: the server's store limit); when full, appends fail instead of dropping batches. */
  maxBytes: number;
  /** Window in which a resent batch (same device and seq) is recognised as a duplicate. */
  duplicateWindowMs: number;
  /** JetStream replicas: 1 on a single server, 3 in a cluster. */
  replicas: number;
}

export interface ConsumerSettings {
  /** Durable consumer name shared by all writers. */
  durable: string;
  /** Redeliver a batch not acked within this time. */
  ackWaitMs: number;
  /**
   * Deliveries after which a writer stores a batch on its own rather than in
   * a group. JetStream itself redelivers without limit (max_deliver -1):
   * with a limit it would stop delivering an acked batch, which would then
   * never be written.
   */
  maxDeliver: number;
  /** Delivered but unacked batches across all writers. */
  maxAckPending: number;
}

/**
 * Connects to NATS and creates or updates the VIGIL_READINGS stream, so
 * receivers and writers can start in any order; with `manageStreams: false`
 * waits for the admin's setup to have created them instead.
 */
export async function connectJetStreamBus(options: JetStreamBusOptions): Promise<ReadingBus> {
  const nc = await connectNats(options);
  const jsm = await jetstreamManager(nc);
  const manage = options.manageStreams ?? true;
  if (options.stream && manage) await ensureStream(jsm, options.stream);
  else if (!manage) await waitForSetup(`stream ${STREAM_NAME}`, options, () => jsm.streams.info(STREAM_NAME));
  else await jsm.streams.info(STREAM_NAME);
  if (options.consumer && manage) await ensureConsumer(jsm, options.consumer, options.ownsConsumer ?? false);
  else if (options.consumer) {
    const durable = options.consumer.durable;
    await waitForSetup(`consumer ${durable}`, options, () => jsm.consumers.info(STREAM_NAME, durable));
  }
  return new JetStreamBus(nc, jsm, jetstream(nc), options);
}

/** The NATS connection options shared by the bus and the admin's setup. */
function connectNats(options: Pick<JetStreamBusOptions, "servers" | "name" | "tls" | "auth" | "component">) {
  return connect({
    servers: options.servers.split(",").map((s) => s.trim()),
    name: options.name,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.auth ? { authenticator: usernamePasswordAuthenticator(options.auth.user, options.auth.password) } : {}),
    ...(options.component ? { inboxPrefix: natsInboxPrefix(options.component) } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Without it every request (each publish's PubAck) builds Error objects up front to keep
    // the caller's stack for a possible timeout: 8 % of the receiver's CPU in the profile.
    noAsyncTraces: true,
  });
}

/** Waits for what the admin's setup creates; any error but "not found" (a permission refused) is final. */
async function waitForSetup(
  what: string,
  options: Pick<JetStreamBusOptions, "setupWaitMs">,
  probe: () => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + (options.setupWaitMs ?? 0);
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (Date.now() >= deadline) {
        throw new Error(
          `NATS ${what} does not exist: with NATS_MANAGE_STREAMS=false it is created by \`vigil nats setup\` as the admin user (the chart's NATS setup Job)`,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

export interface JetStreamSetupOptions extends Pick<JetStreamBusOptions, "servers" | "name" | "tls" | "auth"> {
  stream: StreamSettings;
  consumer: ConsumerSettings;
  /** The alerters' feed; omitted: left as it is (no alerters). */
  feed?: FeedSettings;
}

/**
 * The admin's setup (`vigil nats setup`): creates or updates the readings'
 * stream, the writers' durable consumer and the alerters' feed, which the
 * components' own NATS users may not.
 */
export async function setupJetStream(
  options: JetStreamSetupOptions,
): Promise<{ stream: string; consumer: string; feed?: string }> {
  const nc = await connect({
    servers: options.servers.split(",").map((s) => s.trim()),
    name: options.name,
    timeout: 10_000,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.auth ? { authenticator: usernamePasswordAuthenticator(options.auth.user, options.auth.password) } : {}),
    inboxPrefix: natsInboxPrefix("admin"),
  });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, options.stream);
    await ensureConsumer(jsm, options.consumer, true);
    if (options.feed) await ensureFeedStream(jsm, options.feed);
    return {
      stream: STREAM_NAME,
      consumer: options.consumer.durable,
      ...(options.feed ? { feed: FEED_STREAM_NAME } : {}),
    };
  } catch (err) {
    if (!/Permissions Violation/.test(String(err))) throw err;
    const who = options.auth ? `user ${options.auth.user}` : "a connection without a user";
    throw new Error(
      `${(err as Error).message}: setting up the streams needs the admin user (vigil-admin), not ${who}`,
      {
        cause: err,
      },
    );
  } finally {
    await nc.close();
  }
}

async function ensureStream(jsm: JetStreamManager, settings: StreamSettings): Promise<void> {
  const config: Partial<StreamConfig> = {
    subjects: [`${SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    // A batch leaves the log once the writers' consumer acked it (after
    // COMMIT), so max_bytes bounds the unwritten backlog, not history.
    retention: RetentionPolicy.Interest,
    // Refuse new batches when the backlog is full rather than dropping
    // unconsumed ones: receivers stop acking and hold devices back.
    discard: DiscardPolicy.New,
    max_age: nanos(settings.maxAgeMs),
    max_bytes: settings.maxBytes,
    duplicate_window: nanos(settings.duplicateWindowMs),
    num_replicas: settings.replicas,
    allow_direct: true,
  };
  try {
    await jsm.streams.info(STREAM_NAME);
    await jsm.streams.update(STREAM_NAME, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add({ name: STREAM_NAME, ...config });
    } catch (addErr) {
      // Another replica created it first.
      if (!String(addErr).includes("already in use")) throw addErr;
    }
  }
}

async function ensureConsumer(jsm: JetStreamManager, c: ConsumerSettings, owner: boolean): Promise<void> {
  const config = {
    durable_name: c.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(c.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: c.maxAckPending,
    filter_subject: `${SUBJECT_PREFIX}.>`,
  };
  try {
    await jsm.consumers.info(STREAM_NAME, c.durable);
    if (owner) {
      await jsm.consumers.update(STREAM_NAME, c.durable, {
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: config.max_ack_pending,
      });
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(STREAM_NAME, config);
    } catch (addErr) {
      if (!/already (in use|exists)/i.test(String(addErr))) throw addErr;
    }
  }
}

/**
 * The alerters' feed: a stream with limits retention (nobody acks; the
 * oldest batches go beyond max_bytes or max_age, discard old) that sources
 * VIGIL_READINGS, renaming each batch's subject to carry its partition.
 * Sourcing is done by the server: the alerters' own reads touch only this
 * stream, so an alerter that stops reading holds nothing back.
 */
async function ensureFeedStream(jsm: JetStreamManager, settings: FeedSettings): Promise<void> {
  const config: Partial<StreamConfig> = {
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
    max_bytes: settings.maxBytes,
    max_age: nanos(settings.maxAgeMs),
    num_replicas: settings.replicas,
    sources: [
      {
        name: STREAM_NAME,
        subject_transforms: [
          {
            src: `${SUBJECT_PREFIX}.*.*`,
            dest: `${FEED_SUBJECT_PREFIX}.{{partition(${settings.partitions},1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}`,
          },
        ],
      },
    ],
  };
  try {
    const info = await jsm.streams.info(FEED_STREAM_NAME);
    if (info.config.storage !== config.storage) {
      // Storage cannot change in place: start the feed again (the alerters report the gap).
      await jsm.streams.delete(FEED_STREAM_NAME);
      await jsm.streams.add({ name: FEED_STREAM_NAME, ...config });
      return;
    }
    await jsm.streams.update(FEED_STREAM_NAME, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add({ name: FEED_STREAM_NAME, ...config });
    } catch (addErr) {
      if (!String(addErr).includes("already in use")) throw addErr;
    }
  }
}

/** The feed set up by the admin must split devices as this alerter expects (ALERTER_PARTITIONS). */
async function checkFeedPartitions(jsm: JetStreamManager, partitions: number): Promise<void> {
  const info = await jsm.streams.info(FEED_STREAM_NAME);
  const dest = info.config.sources?.[0]?.subject_transforms?.[0]?.dest ?? "";
  if (!dest.includes(`{{partition(${partitions},1,2)}}`)) {
    throw new Error(
      `stream ${FEED_STREAM_NAME} is not split into ${partitions} partitions (${dest}): run \`vigil nats setup\` with the alerters' ALERTER_PARTITIONS`,
    );
  }
}

class JetStreamFeed implements AlertFeed {
  readonly partitions: number;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;

  constructor(js: JetStreamClient, jsm: JetStreamManager, partitions: number) {
    this.js = js;
    this.jsm = jsm;
    this.partitions = partitions;
  }

  read(partition: number, fromSeq: number): FeedReader {
    const js = this.js;
    let messages: ConsumerMessages | undefined;
    let stopped = false;
    return {
      async *[Symbol.asyncIterator]() {
        // An ordered consumer: ephemeral, no acks, recreated by the client after a break.
        const consumer = await js.consumers.get(FEED_STREAM_NAME, {
          // One filter as a string: nats.js then names the consumer in the API subject
          // (CONSUMER.CREATE.<stream>.<name>.<filter>), which permissions.ts allows.
          filter_subjects: `${FEED_SUBJECT_PREFIX}.${partition}.>`,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: Math.max(1, fromSeq),
        });
        if (stopped) return;
        messages = await consumer.consume({ max_messages: 1_000 });
        for await (const m of messages) yield feedMessage(m);
      },
      stop() {
        stopped = true;
        void messages?.close();
      },
    };
  }

  async window(): Promise<{ firstSeq: number; lastSeq: number }> {
    const { state } = await this.jsm.streams.info(FEED_STREAM_NAME);
    return { firstSeq: state.first_seq, lastSeq: state.last_seq };
  }
}

function feedMessage(m: JsMsg): FeedMessage {
  // vigil.alerting.<partition>.<code>.<number>
  const parts = m.subject.split(".");
  return {
    seq: m.info.streamSequence,
    device: { id: Number(m.headers?.get(DEVICE_ID_HEADER) || 0), code: parts[3] ?? "", number: Number(parts[4]) },
    payload: m.data,
    storedAtMs: m.info.timestampNanos / 1e6,
    pending: m.info.pending,
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}

/** Room left in max_payload for a batch's headers; what the receiver sets is far smaller. */
const HEADER_ALLOWANCE_BYTES = 4096;

class JetStreamBus implements ReadingBus {
  private reconnecting = false;

  private readonly nc: NatsConnection;
  private readonly jsm: JetStreamManager;
  private readonly js: JetStreamClient;
  private readonly options: JetStreamBusOptions;
  readonly deviceEvents: DeviceEvents;
  readonly userEvents: UserEvents;

  constructor(nc: NatsConnection, jsm: JetStreamManager, js: JetStreamClient, options: JetStreamBusOptions) {
    this.nc = nc;
    this.jsm = jsm;
    this.js = js;
    this.options = options;
    this.deviceEvents = natsDeviceEvents(nc);
    this.userEvents = natsUserEvents(nc);
    void this.trackConnection();
  }

  async append(batch: OutgoingBatch): Promise<AppendResult> {
    const h = natsHeaders();
    h.set(DEVICE_ID_HEADER, String(batch.device.id));
    h.set(SEQ_HEADER, String(batch.seq));
    for (const [key, value] of Object.entries(batch.headers ?? {})) h.set(key, value);
    const ack = await this.js.publish(deviceSubject(batch.device), batch.payload, {
      msgID: batch.messageId ?? batchMessageId(batch.device, batch.seq),
      headers: h,
      timeout: this.options.publishTimeoutMs,
    });
    return { duplicate: ack.duplicate };
  }

  async last(device: DeviceAddress): Promise<StoredBatch | undefined> {
    const stored = await this.jsm.streams.getMessage(STREAM_NAME, {
      last_by_subj: deviceSubject(device),
    });
    return stored ? fromStored(stored) : undefined;
  }

  consume(options: ConsumeOptions): BatchConsumer {
    const js = this.js;
    const durable = this.options.consumer?.durable;
    if (!durable) throw new Error("consume() needs consumer settings");
    let messages: ConsumerMessages | undefined;
    let stopped = false;
    return {
      async *[Symbol.asyncIterator]() {
        if (stopped) return;
        const consumer = await js.consumers.get(STREAM_NAME, durable);
        messages = await consumer.consume({ max_messages: options.prefetch });
        for await (const m of messages) yield toDelivery(m);
      },
      async stop() {
        stopped = true;
        await messages?.close();
      },
    };
  }

  watch(filter: WatchFilter): BatchWatch {
    const js = this.js;
    let messages: ConsumerMessages | undefined;
    let stopped = false;
    return {
      async *[Symbol.asyncIterator]() {
        const consumer = await js.consumers.get(STREAM_NAME, {
          // A string, not a list: see JetStreamFeed.read.
          filter_subjects: watchSubject(filter),
          deliver_policy: DeliverPolicy.New,
        });
        if (stopped) return;
        const iter = await consumer.consume();
        messages = iter;
        for await (const m of iter) yield fromJsMsg(m);
      },
      stop() {
        stopped = true;
        void messages?.close();
      },
    };
  }

  async openFeed(settings: FeedSettings): Promise<AlertFeed> {
    if (this.options.manageStreams ?? true) await ensureFeedStream(this.jsm, settings);
    else {
      await waitForSetup(`stream ${FEED_STREAM_NAME}`, this.options, () => this.jsm.streams.info(FEED_STREAM_NAME));
      await checkFeedPartitions(this.jsm, settings.partitions);
    }
    return new JetStreamFeed(this.js, this.jsm, settings.partitions);
  }

  isConnected(): boolean {
    return !this.nc.isClosed() && !this.reconnecting;
  }

  maxPayloadBytes(): number {
    // Headers (device id, seq, message id, trace context) count toward max_payload too.
    return Math.max(0, (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ALLOWANCE_BYTES);
  }

  async backlog(): Promise<Backlog> {
    const durable = this.options.consumer?.durable;
    if (!durable) throw new Error("backlog() needs consumer settings");
    const info = await this.jsm.consumers.info(STREAM_NAME, durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }

  private async trackConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") this.reconnecting = true;
      if (s.type === "reconnect") this.reconnecting = false;
    }
  }
}

function fromJsMsg(m: JsMsg): StoredBatch {
  return {
    device: deviceFrom(m.subject, m.headers),
    seq: Number(m.headers?.get(SEQ_HEADER) ?? 0),
    payload: m.data,
    storedAtMs: m.info.timestampNanos / 1e6,
    headers: headerRecord(m.headers),
  };
}

function toDelivery(m: JsMsg): Delivery {
  return {
    ...fromJsMsg(m),
    deliveryCount: m.info.deliveryCount,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    term: () => m.term(),
    inProgress: () => m.working(),
  };
}

function fromStored(m: StoredMsg): StoredBatch {
  return {
    device: deviceFrom(m.subject, m.header),
    seq: Number(m.header.get(SEQ_HEADER) || 0),
    payload: m.data,
    storedAtMs: m.time.getTime(),
    headers: headerRecord(m.header),
  };
}

function deviceFrom(subject: string, h: MsgHdrs | undefined): DeviceAddress {
  const parsed = parseDeviceSubject(subject) ?? { code: "", number: 0 };
  return { id: Number(h?.get(DEVICE_ID_HEADER) || 0), ...parsed };
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const key of h.keys()) out[key] = h.get(key);
  return out;
}

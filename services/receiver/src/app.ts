import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { type ChannelOptions, Server, ServerCredentials, status } from "@grpc/grpc-js";
import {
  connectJetStreamBus,
  consumerSettings,
  type DeviceEvent,
  natsAccess,
  type ReadingBus,
  streamSettings,
} from "@vigil/bus";
import { openDatabase, pingDatabase, type VigilDatabase } from "@vigil/db";
import {
  type AuthenticatedDevice,
  activeCertificates,
  activeKeys,
  authenticateDevice,
  authenticateDeviceCertificate,
  lastWrittenSeq,
  markConnected,
  markDisconnected,
  PRESENCE_HEARTBEAT_MS,
} from "@vigil/devices";
import { addReflection, grpcServiceDefinition, HealthImplementation } from "@vigil/grpc";
import { type DeadLetterInput, recordDeadLetter } from "@vigil/ingest";
import { file_vigil_ingest_v1_ingest, IngestService } from "@vigil/proto";
import type { App, Logger } from "@vigil/runtime";
import { metricsRegistry, type OpsServer, startOpsServer } from "@vigil/telemetry";
import { type CertificateFiles, caFileProvider, grpcServerCredentials, serverTransport } from "@vigil/tls";
import type { ReceiverConfig } from "./config.ts";
import { DeviceAuthenticator } from "./device-authenticator.ts";
import { type IngestCall, IngestStream, type StreamContext } from "./ingest-stream.ts";
import { OpenStreams } from "./open-streams.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { ReadingSources } from "./reading-sources.ts";
import { receiverMetrics, trackOpenStreams } from "./receiver-metrics.ts";
import { SensorRegistry } from "./sensor-registry.ts";
import { decodeStreamRequest } from "./stream-request-codec.ts";

export interface ReceiverDeps {
  logger: Logger;
  /** Shared bus (quick start, tests); opened from NATS_URL when absent. */
  bus?: ReadingBus;
  /** Shared database; opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  now?: () => number;
  /** Serve /metrics, /healthz and /readyz on RECEIVER_OPS_PORT (default); the quick start serves them itself. */
  opsServer?: boolean;
}

export interface ReceiverApp extends App {
  /** The bound port, known after start (useful with port 0). */
  readonly port: number;
  /** Number of open device streams. */
  readonly openStreams: number;
  /** The bound ops port (0 when not serving one). */
  readonly opsPort: number;
  /** Ready: the database and NATS answer. */
  ready(): Promise<boolean>;
}

const SERVICE = IngestService.typeName;
/** How often rate-limit buckets of devices without a stream are forgotten once full. */
const BUCKET_SWEEP_MS = 60_000;
/** How often readiness is re-checked and published as the gRPC health status. */
const READINESS_INTERVAL_MS = 2_000;

/**
 * The device-facing gRPC server: IngestService/Stream, grpc.health.v1 and
 * (when enabled) reflection on one port. It authenticates devices, keeps their presence
 * fresh, closes streams whose key is revoked or whose device is disabled
 * (device events, plus a periodic re-check), and on stop() drains: health
 * NOT_SERVING, Drain to every stream, wait for queued appends, then close.
 */
export function createReceiverApp(config: ReceiverConfig, deps: ReceiverDeps): ReceiverApp {
  const log = deps.logger;
  const now = deps.now ?? Date.now;
  const server = new Server(serverOptions(config));
  const health = new HealthImplementation({ "": "NOT_SERVING", [SERVICE]: "NOT_SERVING" });
  const rateLimiter = new RateLimiter({
    perSecond: config.RECEIVER_RATE_LIMIT_PER_S,
    burst: config.RECEIVER_RATE_LIMIT_BURST,
  });
  const pendingWrites = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const metrics = receiverMetrics();
  let ops: OpsServer | undefined;
  let untrack: (() => void) | undefined;
  let bus = deps.bus;
  let database = deps.database;
  let authenticator: DeviceAuthenticator | undefined;
  /** Client certificates by fingerprint (mTLS), cached like keys. */
  let certificates: DeviceAuthenticator | undefined;
  /** Provenance ids of (device, credential, this receiver). */
  let sources: ReadingSources | undefined;
  let context: StreamContext | undefined;
  let stopEvents: (() => void) | undefined;
  let draining = false;
  let port = 0;
  let tls: CertificateFiles | undefined;

  /** Database writes the stream path does not wait for; logged on failure, awaited on stop. */
  function background(what: string, work: () => Promise<unknown>): void {
    const p = work().then(
      () => {},
      (err) => log.warn({ err }, `${what} failed`),
    );
    pendingWrites.add(p);
    void p.finally(() => pendingWrites.delete(p));
  }

  const streams = new OpenStreams({
    firstOpened: (id) => background("presence update", () => markConnected(db(), [id])),
    // The device's rate-limit bucket stays (RateLimiter.sweep): reconnecting earns no fresh burst.
    lastClosed: (id) => background("presence update", () => markDisconnected(db(), id)),
  });
  let pendingDeadLetters = 0;

  /**
   * Keeps a rejected batch, bounded: at most RECEIVER_MAX_PENDING_DEAD_LETTERS
   * writes wait at once (beyond that a reject is answered and counted, not
   * stored), payloads are cut to RECEIVER_DEAD_LETTER_MAX_PAYLOAD_BYTES, and
   * each device stores at most RECEIVER_DEAD_LETTERS_PER_DEVICE_PER_DAY.
   */
  function deadLetter(input: DeadLetterInput): void {
    if (pendingDeadLetters >= config.RECEIVER_MAX_PENDING_DEAD_LETTERS) {
      metrics.deadLettersSkipped.inc({ reason: "backlog" });
      return;
    }
    pendingDeadLetters++;
    background("dead letter", async () => {
      try {
        const stored = await recordDeadLetter(db(), input, {
          maxPayloadBytes: config.RECEIVER_DEAD_LETTER_MAX_PAYLOAD_BYTES,
          perDevicePerDay: config.RECEIVER_DEAD_LETTERS_PER_DEVICE_PER_DAY,
        });
        if (!stored) metrics.deadLettersSkipped.inc({ reason: "quota" });
      } finally {
        pendingDeadLetters--;
      }
    });
  }

  function db() {
    if (!database) throw new Error("receiver not started");
    return database.db;
  }

  async function handleStream(call: IngestCall): Promise<void> {
    const fail = (code: status, details: string) => {
      call.emit("error", { code, details });
    };
    if (draining || !authenticator || !context || !sources)
      return fail(status.UNAVAILABLE, "receiver is shutting down, reconnect");
    const apiKey = call.metadata.get("x-api-key")[0];
    // Present only when the certificate verified against RECEIVER_CLIENT_CA_FILE (grpc-js hides others).
    const fingerprint = clientCertificateFingerprint(call);
    const hasKey = typeof apiKey === "string" && apiKey !== "";
    if (!hasKey && !fingerprint) {
      metrics.authFailures.inc({ reason: "missing" });
      return fail(status.UNAUTHENTICATED, "missing x-api-key metadata (or a registered client certificate)");
    }
    let byKey: AuthenticatedDevice | undefined;
    let byCert: AuthenticatedDevice | undefined;
    try {
      if (hasKey) byKey = await authenticator.authenticate(apiKey);
      if (fingerprint && certificates) byCert = await certificates.authenticate(fingerprint);
    } catch (err) {
      log.error({ err }, "device authentication failed");
      return fail(status.UNAVAILABLE, "cannot verify the device's credentials right now, reconnect later");
    }
    if (hasKey && !byKey) {
      metrics.authFailures.inc({ reason: "invalid" });
      return fail(status.UNAUTHENTICATED, "API key is invalid, revoked or expired");
    }
    if (fingerprint && !byCert) {
      metrics.authFailures.inc({ reason: "invalid" });
      return fail(
        status.UNAUTHENTICATED,
        "client certificate is not registered to a device, or was revoked or rotated out",
      );
    }
    if (byKey && byCert && byKey.id !== byCert.id) {
      metrics.authFailures.inc({ reason: "invalid" });
      return fail(status.UNAUTHENTICATED, "the API key and the client certificate belong to different devices");
    }
    const device: AuthenticatedDevice = byKey
      ? { ...byKey, ...(byCert ? { certFingerprint: byCert.certFingerprint } : {}) }
      : (byCert as AuthenticatedDevice);
    let sourceId: number;
    try {
      sourceId = await sources.idFor(device);
    } catch (err) {
      log.error({ err }, "could not record the stream's provenance");
      return fail(status.UNAVAILABLE, "cannot open the stream right now, reconnect later");
    }
    if (draining) return fail(status.UNAVAILABLE, "receiver is shutting down, reconnect");
    metrics.streamsOpened.inc();
    rateLimiter.setLimit(device.id, device.rateLimit, now());
    streams.add(new IngestStream(call, device, context, sourceId));
  }

  function onDeviceEvent(event: DeviceEvent): void {
    authenticator?.forgetDevice(event.deviceId);
    certificates?.forgetDevice(event.deviceId);
    const affected = streams.of(event.deviceId);
    if (event.kind === "disabled") {
      for (const s of affected) s.abort(status.UNAUTHENTICATED, "device is disabled");
    } else if (event.kind === "key_revoked") {
      for (const s of affected)
        if (s.device.keyPrefix === event.keyPrefix) s.abort(status.UNAUTHENTICATED, "API key was revoked");
    } else if (event.kind === "certificate_revoked") {
      for (const s of affected)
        if (s.device.certFingerprint === event.fingerprint) {
          s.abort(status.UNAUTHENTICATED, "client certificate was revoked");
        }
    } else {
      void recheck(affected);
    }
  }

  /** Closes streams whose key or certificate stopped being valid and applies changed rate limits. */
  async function recheck(list: IngestStream[]): Promise<void> {
    if (list.length === 0) return;
    let keys: Awaited<ReturnType<typeof activeKeys>>;
    let certs: Awaited<ReturnType<typeof activeCertificates>>;
    try {
      keys = await activeKeys(db(), [...new Set(list.map((s) => s.device.keyPrefix).filter(Boolean))]);
      const fingerprints = list.map((s) => s.device.certFingerprint).filter((f): f is string => Boolean(f));
      certs = await activeCertificates(db(), [...new Set(fingerprints)]);
    } catch (err) {
      log.warn({ err }, "could not re-check device credentials");
      return;
    }
    for (const s of list) {
      const { keyPrefix, certFingerprint } = s.device;
      const keyOk = !keyPrefix || keys.has(keyPrefix);
      const certOk = !certFingerprint || certs.has(certFingerprint);
      if (keyOk && certOk) {
        rateLimiter.setLimit(s.device.id, keyPrefix ? keys.get(keyPrefix) : certs.get(certFingerprint!), now());
        continue;
      }
      metrics.authFailures.inc({ reason: "revoked" });
      s.abort(status.UNAUTHENTICATED, keyOk ? "client certificate is no longer valid" : "API key is no longer valid");
    }
  }

  /** Ready while the database and NATS answer; published as the gRPC health status too. */
  async function ready(): Promise<boolean> {
    if (draining || !bus || !database) return false;
    return bus.isConnected() && (await pingDatabase(database.db));
  }

  /**
   * Readiness is IngestService's health status (what readiness probes ask).
   * The server as a whole ("", what liveness probes ask) stays SERVING until
   * shutdown: a NATS outage must not get receivers restarted.
   */
  async function publishReadiness(): Promise<void> {
    if (draining) return;
    const status = (await ready()) ? "SERVING" : "NOT_SERVING";
    if (draining) return;
    health.setStatus(SERVICE, status);
  }

  // Decoding stops at the first series or reading past the limits: nothing is built for more.
  const decodeLimits = {
    maxSeries: config.RECEIVER_MAX_BATCH_SERIES,
    maxSeriesValues: config.RECEIVER_MAX_BATCH_READINGS,
  };
  server.addService(
    grpcServiceDefinition(IngestService, {
      stream: { requestDeserialize: (bytes: Uint8Array) => decodeStreamRequest(bytes, decodeLimits) },
    }),
    { stream: handleStream },
  );
  // Off unless asked for (RECEIVER_REFLECTION): it lists every method to anyone who connects.
  if (config.RECEIVER_REFLECTION) addReflection(server, [file_vigil_ingest_v1_ingest]);
  health.addToServer(server);

  return {
    get port() {
      return port;
    },
    get openStreams() {
      return streams.size;
    },
    get opsPort() {
      return ops?.port ?? 0;
    },
    ready,

    async start() {
      // Before anything connects: refuse plaintext where it must not be served.
      tls = await serverTransport(
        config,
        [
          { host: config.RECEIVER_HOST, what: "the receiver's gRPC port" },
          ...(deps.opsServer !== false ? [{ host: config.RECEIVER_HOST, what: "the receiver's ops port" }] : []),
        ],
        log,
      );
      if (config.RECEIVER_CLIENT_CA_FILE && !tls) {
        throw new Error(
          "RECEIVER_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates come with TLS",
        );
      }
      // Devices may present certificates signed by this CA (read again like the server's files).
      const clientCa = config.RECEIVER_CLIENT_CA_FILE
        ? caFileProvider(config.RECEIVER_CLIENT_CA_FILE, config.TLS_RELOAD_INTERVAL_MS)
        : undefined;
      database ??= await openDatabase(config.DATABASE_URL, { applicationName: "vigil-receiver", maxConnections: 5 });
      bus ??= await connectJetStreamBus({
        ...natsAccess(config, "receiver"),
        servers: config.NATS_URL,
        name: "vigil-receiver",
        stream: streamSettings(config),
        consumer: consumerSettings(config),
        ownsConsumer: false,
        publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
      });
      const readyBus = bus;
      authenticator = new DeviceAuthenticator(
        (key) => authenticateDevice(db(), key),
        config.RECEIVER_AUTH_CACHE_MS,
        now,
      );
      certificates = new DeviceAuthenticator(
        (fingerprint) => authenticateDeviceCertificate(db(), fingerprint),
        config.RECEIVER_AUTH_CACHE_MS,
        now,
      );
      sources = new ReadingSources(db, config.RECEIVER_INSTANCE ?? hostname());
      const maxAppendBytes = readyBus.maxPayloadBytes();
      if (maxAppendBytes < config.RECEIVER_MAX_MESSAGE_BYTES) {
        log.warn(
          { maxAppendBytes, RECEIVER_MAX_MESSAGE_BYTES: config.RECEIVER_MAX_MESSAGE_BYTES },
          "the log takes smaller messages than RECEIVER_MAX_MESSAGE_BYTES: larger batches are rejected as TOO_LARGE",
        );
      }
      context = {
        bus: readyBus,
        logger: log,
        now,
        limits: {
          maxBatchReadings: config.RECEIVER_MAX_BATCH_READINGS,
          maxBatchSeries: config.RECEIVER_MAX_BATCH_SERIES,
          maxFutureSkewMs: config.READINGS_MAX_FUTURE_SKEW_MS,
          maxAgeMs: config.READINGS_RETENTION_MS,
          maxInFlightBatches: config.RECEIVER_MAX_IN_FLIGHT_BATCHES,
          maxMessageBytes: config.RECEIVER_MAX_MESSAGE_BYTES,
          maxAppendBytes,
          helloTimeoutMs: config.RECEIVER_HELLO_TIMEOUT_MS,
          maxRejects: config.RECEIVER_MAX_REJECTS_PER_STREAM,
          maxNewSensors: config.RECEIVER_NEW_SENSORS_PER_DEVICE,
          newSensorsWindowMs: config.RECEIVER_NEW_SENSORS_WINDOW_MS,
        },
        lastWrittenSeq: (id) => lastWrittenSeq(db(), id),
        takeTokens: (device, readings) => rateLimiter.take(device.id, readings, now()),
        chargeTokens: (device, readings) => rateLimiter.charge(device.id, readings, now()),
        sensors: new SensorRegistry(db(), {
          maxNewPerDevice: config.RECEIVER_NEW_SENSORS_PER_DEVICE,
          windowMs: config.RECEIVER_NEW_SENSORS_WINDOW_MS,
        }),
        deadLetter: async (input) => deadLetter(input),
        metrics,
      };
      untrack = trackOpenStreams(() => streams.size);
      stopEvents = readyBus.deviceEvents.subscribe(onDeviceEvent).stop;
      timers.push(
        setInterval(() => void recheck(streams.all()), Math.max(1_000, config.RECEIVER_AUTH_CACHE_MS)),
        setInterval(
          () => background("presence heartbeat", () => markConnected(db(), streams.deviceIds())),
          PRESENCE_HEARTBEAT_MS,
        ),
        setInterval(() => void publishReadiness().catch(() => {}), READINESS_INTERVAL_MS),
        setInterval(() => rateLimiter.sweep(now(), (id) => streams.of(id).length > 0), BUCKET_SWEEP_MS),
      );
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(
          `${config.RECEIVER_HOST}:${config.RECEIVER_PORT}`,
          tls ? grpcServerCredentials(tls, clientCa) : ServerCredentials.createInsecure(),
          (err, p) => (err ? reject(err) : resolve(p)),
        ),
      );
      health.setStatus("", "SERVING");
      await publishReadiness();
      if (deps.opsServer !== false) {
        ops = await startOpsServer({
          host: config.RECEIVER_HOST,
          port: config.RECEIVER_OPS_PORT,
          registry: metricsRegistry(),
          ready,
          tls,
        });
      }
      log.info({ port, opsPort: ops?.port, tls: tls !== undefined }, "receiver listening");
    },

    async stop() {
      health.setStatus("", "NOT_SERVING");
      health.setStatus(SERVICE, "NOT_SERVING");
      draining = true;
      for (const t of timers) clearInterval(t);
      stopEvents?.();
      const open = streams.all();
      for (const s of open) s.drain(config.RECEIVER_RECONNECT_AFTER_MS);
      const timedOut = await Promise.race([
        Promise.all(open.map((s) => s.ended)).then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.RECEIVER_DRAIN_TIMEOUT_MS).unref()),
      ]);
      if (timedOut) {
        log.warn({ streams: streams.size }, "drain timed out, closing remaining streams");
        for (const s of streams.all())
          s.abort(status.UNAVAILABLE, "receiver is shutting down, reconnect and resend unacked batches");
      }
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await Promise.all(pendingWrites);
      untrack?.();
      await ops?.close();
      if (!deps.bus) await bus?.close();
      if (!deps.database) await database?.close();
      tls?.close();
      log.info("receiver stopped");
    },
  };
}

/**
 * The grpc-js server's options. Only what grpc-js servers implement is set
 * (they ignore the rest silently): grpc-js enforces no ping policy on
 * clients (no minimum ping interval, no ping strikes), which is why a
 * public receiver sits behind an edge proxy that does (docs/security.md).
 */
export function serverOptions(config: ReceiverConfig): ChannelOptions {
  return {
    "grpc.max_receive_message_length": config.RECEIVER_MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": 1024 * 1024,
    "grpc.max_concurrent_streams": config.RECEIVER_MAX_CONCURRENT_STREAMS,
    "grpc.max_connection_age_ms": config.RECEIVER_MAX_CONNECTION_AGE_MS,
    "grpc.max_connection_age_grace_ms": config.RECEIVER_MAX_CONNECTION_AGE_GRACE_MS,
    // Connections without a stream (never opened one, or all ended) are closed after this.
    "grpc.max_connection_idle_ms": config.RECEIVER_MAX_CONNECTION_IDLE_MS,
    "grpc.keepalive_time_ms": config.RECEIVER_KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": 20_000,
    // Node's per-connection HTTP/2 memory bound (grpc-js lifts it to unlimited unless set): a
    // connection past it gets ENHANCE_YOUR_CALM for new streams instead of growing the process.
    "grpc-node.max_session_memory": config.RECEIVER_MAX_SESSION_MEMORY_MB,
  };
}

/** SHA-256 of the client certificate the device presented and the TLS handshake verified, hex; undefined without one. */
function clientCertificateFingerprint(call: IngestCall): string | undefined {
  const raw = call.getAuthContext?.()?.sslPeerCertificate?.raw;
  return raw ? createHash("sha256").update(raw).digest("hex") : undefined;
}

import { type ChannelOptions, Server, ServerCredentials, status } from "@grpc/grpc-js";
import { connectJetStreamBus, consumerSettings, type ReadingBus, streamSettings } from "@vigil/bus";
import { openDatabase, type VigilDatabase } from "@vigil/db";
import { authenticateDevice, lastWrittenSeq } from "@vigil/devices";
import { addReflection, grpcServiceDefinition, HealthImplementation } from "@vigil/grpc";
import { file_vigil_ingest_v1_ingest, IngestService } from "@vigil/proto";
import type { App, Logger } from "@vigil/runtime";
import type { ReceiverConfig } from "./config.ts";
import { DeviceAuthenticator } from "./device-authenticator.ts";
import { type IngestCall, IngestStream, type StreamContext } from "./ingest-stream.ts";
import { decodeStreamRequest } from "./stream-request-codec.ts";

export interface ReceiverDeps {
  logger: Logger;
  /** Shared bus (quick start, tests); opened from NATS_URL when absent. */
  bus?: ReadingBus;
  /** Shared database; opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  now?: () => number;
}

export interface ReceiverApp extends App {
  /** The bound port, known after start (useful with port 0). */
  readonly port: number;
  /** Number of open device streams. */
  readonly openStreams: number;
}

const SERVICE = IngestService.typeName;

/**
 * The device-facing gRPC server: IngestService/Stream, grpc.health.v1 and
 * reflection on one port. stop() drains: health NOT_SERVING, Drain to every
 * stream, wait for in-flight appends, then close.
 */
export function createReceiverApp(config: ReceiverConfig, deps: ReceiverDeps): ReceiverApp {
  const log = deps.logger;
  const server = new Server(serverOptions(config));
  const health = new HealthImplementation({ "": "NOT_SERVING", [SERVICE]: "NOT_SERVING" });
  const streams = new Set<IngestStream>();
  let bus = deps.bus;
  let database = deps.database;
  let authenticator: DeviceAuthenticator | undefined;
  let context: StreamContext | undefined;
  let draining = false;
  let port = 0;

  const limits = {
    maxBatchReadings: config.RECEIVER_MAX_BATCH_READINGS,
    maxFutureSkewMs: config.RECEIVER_MAX_FUTURE_SKEW_MS,
    maxAgeMs: config.READINGS_RETENTION_MS,
    maxInFlightBatches: config.RECEIVER_MAX_IN_FLIGHT_BATCHES,
    maxMessageBytes: config.RECEIVER_MAX_MESSAGE_BYTES,
  };

  async function handleStream(call: IngestCall): Promise<void> {
    const fail = (code: status, details: string) => {
      call.emit("error", { code, details });
    };
    if (draining || !authenticator || !context) return fail(status.UNAVAILABLE, "receiver is shutting down, reconnect");
    const apiKey = call.metadata.get("x-api-key")[0];
    if (typeof apiKey !== "string" || apiKey === "") {
      return fail(status.UNAUTHENTICATED, "missing x-api-key metadata");
    }
    let device: Awaited<ReturnType<DeviceAuthenticator["authenticate"]>>;
    try {
      device = await authenticator.authenticate(apiKey);
    } catch (err) {
      log.error({ err }, "device authentication failed");
      return fail(status.UNAVAILABLE, "cannot verify the API key right now, reconnect later");
    }
    if (!device) return fail(status.UNAUTHENTICATED, "API key is invalid, revoked or expired");
    const stream = new IngestStream(call, device, context);
    streams.add(stream);
    void stream.ended.then(() => streams.delete(stream));
  }

  server.addService(grpcServiceDefinition(IngestService, { stream: { requestDeserialize: decodeStreamRequest } }), {
    stream: handleStream,
  });
  addReflection(server, [file_vigil_ingest_v1_ingest]);
  health.addToServer(server);

  return {
    get port() {
      return port;
    },
    get openStreams() {
      return streams.size;
    },

    async start() {
      database ??= await openDatabase(config.DATABASE_URL, { applicationName: "vigil-receiver", maxConnections: 5 });
      bus ??= await connectJetStreamBus({
        servers: config.NATS_URL,
        name: "vigil-receiver",
        stream: streamSettings(config),
        consumer: consumerSettings(config),
        ownsConsumer: false,
        publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
      });
      const db = database.db;
      authenticator = new DeviceAuthenticator((key) => authenticateDevice(db, key), config.RECEIVER_AUTH_CACHE_MS);
      context = { bus, logger: log, limits, now: deps.now ?? Date.now, lastWrittenSeq: (id) => lastWrittenSeq(db, id) };
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(
          `${config.RECEIVER_HOST}:${config.RECEIVER_PORT}`,
          ServerCredentials.createInsecure(),
          (err, p) => (err ? reject(err) : resolve(p)),
        ),
      );
      health.setStatus("", "SERVING");
      health.setStatus(SERVICE, "SERVING");
      log.info({ port }, "receiver listening");
    },

    async stop() {
      health.setStatus("", "NOT_SERVING");
      health.setStatus(SERVICE, "NOT_SERVING");
      draining = true;
      for (const s of streams) s.drain(config.RECEIVER_RECONNECT_AFTER_MS);
      const drained = Promise.all([...streams].map((s) => s.ended));
      const timedOut = await Promise.race([
        drained.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), config.RECEIVER_DRAIN_TIMEOUT_MS).unref()),
      ]);
      if (timedOut) {
        log.warn({ streams: streams.size }, "drain timed out, closing remaining streams");
        for (const s of streams)
          s.abort(status.UNAVAILABLE, "receiver is shutting down, reconnect and resend unacked batches");
      }
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      if (!deps.bus) await bus?.close();
      if (!deps.database) await database?.close();
      log.info("receiver stopped");
    },
  };
}

function serverOptions(config: ReceiverConfig): ChannelOptions {
  return {
    "grpc.max_receive_message_length": config.RECEIVER_MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": 1024 * 1024,
    "grpc.max_concurrent_streams": config.RECEIVER_MAX_CONCURRENT_STREAMS,
    "grpc.max_connection_age_ms": config.RECEIVER_MAX_CONNECTION_AGE_MS,
    "grpc.max_connection_age_grace_ms": config.RECEIVER_MAX_CONNECTION_AGE_GRACE_MS,
    "grpc.keepalive_time_ms": config.RECEIVER_KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": 20_000,
    // Clients may ping every 10 s, even without active calls, but no faster.
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 10_000,
  };
}

import type http from "node:http";
import type http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { connectJetStreamBus, consumerSettings, type ReadingBus, streamSettings } from "@vigil/bus";
import { openDatabase, pingDatabase, type VigilDatabase } from "@vigil/db";
import {
  AuditService,
  AuthService,
  DeadLetterService,
  DeviceService,
  file_vigil_audit_v1_audit,
  file_vigil_auth_v1_auth,
  file_vigil_devices_v1_devices,
  file_vigil_ingest_v1_dead_letters,
  file_vigil_readings_v1_readings,
  health,
  ReadingService,
  reflection,
} from "@vigil/proto";
import type { App, Logger } from "@vigil/runtime";
import { handleOpsRequest, metricsRegistry } from "@vigil/telemetry";
import { createUser, hasAdmin } from "@vigil/users";
import { auditService } from "./audit-service.ts";
import { accessRules } from "./auth/access-rules.ts";
import { authInterceptor } from "./auth/auth-interceptor.ts";
import { authService } from "./auth/auth-service.ts";
import { KeyedLimiter } from "./auth/keyed-limiter.ts";
import { actorOf, clientAddressKey, cutConnectionKey } from "./auth/principal.ts";
import { TokenSigner } from "./auth/token-signer.ts";
import { type QueryConfig, secretValue } from "./config.ts";
import { consoleRoute } from "./console-route.ts";
import { applyCors } from "./cors.ts";
import { deadLetterService } from "./dead-letter-service.ts";
import { deviceService } from "./device-service.ts";
import { errorInterceptor } from "./errors.ts";
import { grpcHealth } from "./grpc-health.ts";
import { grpcReflection } from "./grpc-reflection.ts";
import { clientAddress, createDualProtocolServer, cutConnection, type DualServer } from "./http-server.ts";
import { openApiRoute } from "./openapi-route.ts";
import { readingService } from "./reading-service.ts";
import { telemetryInterceptor } from "./telemetry-interceptor.ts";

export interface QueryDeps {
  logger: Logger;
  /** Shared database; opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  /** Shared bus; opened from NATS_URL when absent. */
  bus?: ReadingBus;
}

export interface QueryApp extends App {
  /** The bound port, known after start (useful with port 0). */
  readonly port: number;
}

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/**
 * The web-facing server: Connect (Connect-JSON, gRPC, gRPC-Web) on one port
 * with CORS — readings, auth, devices, dead letters and the audit log, all
 * behind one auth interceptor — plus /healthz (the process runs) and /readyz
 * (the database answers).
 */
export function createQueryApp(config: QueryConfig, deps: QueryDeps): QueryApp {
  const log = deps.logger;
  let database = deps.database;
  let bus = deps.bus;
  let server: DualServer | undefined;
  let port = 0;
  let stopping = false;

  /** Ready while the database and NATS (live tail, replays) answer. */
  async function ready(): Promise<boolean> {
    if (stopping || !database || !bus) return false;
    return bus.isConnected() && (await pingDatabase(database.db));
  }

  /** /healthz, /readyz and /metrics on the API port; false for anything else. */
  function opsEndpoints(req: Req, res: Res): boolean {
    const path = req.url?.split("?")[0];
    if (path !== "/healthz" && path !== "/readyz" && path !== "/metrics") return false;
    void handleOpsRequest(req, res, { registry: metricsRegistry(), ready });
    return true;
  }

  async function bootstrapAdmin(db: VigilDatabase["db"]): Promise<void> {
    const username = config.AUTH_BOOTSTRAP_ADMIN_USERNAME;
    const password = secretValue(config.AUTH_BOOTSTRAP_ADMIN_PASSWORD, config.AUTH_BOOTSTRAP_ADMIN_PASSWORD_FILE);
    if (!username || !password || (await hasAdmin(db))) return;
    await createUser(db, { username, password, role: "admin" }, { actor: "system:bootstrap" }).catch((err) => {
      // Another replica created it first.
      if ((err as { kind?: string }).kind !== "exists") throw err;
    });
    log.info({ username }, "bootstrap admin created");
  }

  return {
    get port() {
      return port;
    },

    async start() {
      database ??= await openDatabase(config.DATABASE_URL, { applicationName: "vigil-query" });
      bus ??= await connectJetStreamBus({
        servers: config.NATS_URL,
        name: "vigil-query",
        stream: streamSettings(config),
        consumer: consumerSettings(config),
        publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
      });
      const db = database.db;
      const readyBus = bus;
      const signer = await TokenSigner.create(secretValue(config.AUTH_JWT_KEYS, config.AUTH_JWT_KEYS_FILE));
      if (signer.ephemeral) {
        log.warn("AUTH_JWT_KEYS is not set: signing with a key generated at start; tokens end with this process");
      }
      await bootstrapAdmin(db);
      const perMinute = config.QUERY_USER_REQUESTS_PER_MIN;
      const connect = connectNodeAdapter({
        // A misspelt field must be an error, not ignored: {"filter": {"sensr": "x"}} would
        // otherwise widen an update or delete to every reading of the device.
        jsonOptions: { ignoreUnknownFields: false },
        routes: (router) => {
          router.service(
            ReadingService,
            readingService({ db, bus: readyBus, watchBufferBatches: config.QUERY_WATCH_BUFFER_BATCHES }),
          );
          router.service(
            AuthService,
            authService({
              db,
              signer,
              accessTokenTtlMs: config.AUTH_ACCESS_TOKEN_TTL_MS,
              refreshTokenTtlMs: config.AUTH_REFRESH_TOKEN_TTL_MS,
              loginsPerUsername: new KeyedLimiter(
                config.AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN,
                config.AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN,
              ),
              loginsPerAddress: new KeyedLimiter(
                config.AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN,
                config.AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN,
              ),
            }),
          );
          router.service(
            DeviceService,
            deviceService({ db, actor: actorOf, publish: (e) => readyBus.deviceEvents.publish(e) }),
          );
          router.service(
            DeadLetterService,
            deadLetterService({
              db,
              bus: readyBus,
              actor: actorOf,
              limits: {
                maxBatchReadings: Number.MAX_SAFE_INTEGER,
                maxAgeMs: config.READINGS_RETENTION_MS,
                maxFutureSkewMs: config.READINGS_MAX_FUTURE_SKEW_MS,
              },
            }),
          );
          router.service(AuditService, auditService({ db }));
          const served = [ReadingService, AuthService, DeviceService, DeadLetterService, AuditService];
          router.service(
            health.Health,
            grpcHealth(
              served.map((s) => s.typeName),
              ready,
            ),
          );
          router.service(
            reflection.ServerReflection,
            grpcReflection([
              file_vigil_readings_v1_readings,
              file_vigil_auth_v1_auth,
              file_vigil_devices_v1_devices,
              file_vigil_ingest_v1_dead_letters,
              file_vigil_audit_v1_audit,
              health.file_health_v1_health,
              reflection.file_grpc_reflection_v1_reflection,
            ]),
          );
        },
        // Outermost first: errors are mapped for everything, including refused auth.
        interceptors: [
          telemetryInterceptor(log),
          errorInterceptor(log),
          authInterceptor({
            signer,
            rules: accessRules({ openRegistration: config.AUTH_OPEN_REGISTRATION }),
            userLimiter: new KeyedLimiter(perMinute, Math.max(1, Math.ceil(perMinute / 10))),
            log,
          }),
        ],
        contextValues: (req) =>
          createContextValues()
            .set(clientAddressKey, clientAddress(req))
            .set(cutConnectionKey, () => cutConnection(req)),
      });
      const openApi = openApiRoute();
      const webConsole = consoleRoute(config.QUERY_CONSOLE_DIR, log);
      server = createDualProtocolServer((req, res) => {
        if (applyCors(config.QUERY_CORS_ORIGINS, req, res) || opsEndpoints(req, res) || openApi(req, res)) return;
        if (webConsole(req, res)) return;
        connect(req, res);
      });
      const listening = server;
      await new Promise<void>((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(config.QUERY_PORT, config.QUERY_HOST, () => resolve());
      });
      port = (listening.address() as AddressInfo).port;
      log.info({ port }, "query service listening");
    },

    async stop() {
      stopping = true;
      await server?.shutdown(5_000);
      if (!deps.bus) await bus?.close();
      if (!deps.database) await database?.close();
      log.info("query service stopped");
    },
  };
}

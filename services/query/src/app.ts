import type http from "node:http";
import type http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { createContextValues } from "@connectrpc/connect";
import { openAlertCounts } from "@vigil/alerts";
import { connectJetStreamBus, consumerSettings, natsAccess, type ReadingBus, streamSettings } from "@vigil/bus";
import { AuditBatcher, openDatabase, pingDatabase, type VigilDatabase, waitForSchema } from "@vigil/db";
import { forecastSettings } from "@vigil/maintenance";
import {
  AlertService,
  AuditService,
  AuthService,
  DeadLetterService,
  DeviceService,
  FleetService,
  file_vigil_alerts_v1_alerts,
  file_vigil_audit_v1_audit,
  file_vigil_auth_v1_auth,
  file_vigil_auth_v1_sso,
  file_vigil_devices_v1_devices,
  file_vigil_fleet_v1_fleet,
  file_vigil_ingest_v1_dead_letters,
  file_vigil_maintenance_v1_maintenance,
  file_vigil_procedures_v1_procedures,
  file_vigil_readings_v1_readings,
  health,
  MaintenanceService,
  ProcedureService,
  ReadingService,
  reflection,
  SsoService,
  UserService,
} from "@vigil/proto";
import type { App, Logger } from "@vigil/runtime";
import { handleOpsRequest, metricsRegistry, type OpsServer, startOpsServer } from "@vigil/telemetry";
import { type CertificateFiles, serverTransport } from "@vigil/tls";
import { createUser, hasAdmin } from "@vigil/users";
import { alertService } from "./alert-service.ts";
import { AlertWatchHub } from "./alert-watch.ts";
import { apiReferenceRoute } from "./api-reference-route.ts";
import { auditService } from "./audit-service.ts";
import { accessRules } from "./auth/access-rules.ts";
import { createAuth } from "./auth/auth-interceptor.ts";
import { authService } from "./auth/auth-service.ts";
import { KeyedLimiter } from "./auth/keyed-limiter.ts";
import { OidcClient } from "./auth/oidc-client.ts";
import { oidcSettings } from "./auth/oidc-config.ts";
import { ssoSignInCounter } from "./auth/oidc-metrics.ts";
import { oidcRoutes } from "./auth/oidc-routes.ts";
import { actorOf, clientAddressKey, cutConnectionKey, traceIdOf } from "./auth/principal.ts";
import { SignInFailures } from "./auth/sign-in-failures.ts";
import { ssoService } from "./auth/sso-service.ts";
import { streamRevocationInterceptor } from "./auth/stream-revocation.ts";
import { TokenSigner } from "./auth/token-signer.ts";
import { TokenVersions } from "./auth/token-versions.ts";
import { userService } from "./auth/user-service.ts";
import { clientAddress, proxyMatcher } from "./client-address.ts";
import { ConcurrencyLimit } from "./concurrency-limit.ts";
import { type QueryConfig, secretValue } from "./config.ts";
import { createConnectHandler } from "./connect-handler.ts";
import { consoleRoute } from "./console-route.ts";
import { applyCors } from "./cors.ts";
import { deadLetterService } from "./dead-letter-service.ts";
import { deviceService } from "./device-service.ts";
import { errorInterceptor, toConnectError } from "./errors.ts";
import { fleetService } from "./fleet-service.ts";
import { grpcHealth } from "./grpc-health.ts";
import { grpcReflection } from "./grpc-reflection.ts";
import { type ApiServer, createApiServer, cutConnection } from "./http-server.ts";
import { maintenanceService } from "./maintenance-service.ts";
import { openApiRoute } from "./openapi-route.ts";
import { procedureService } from "./procedure-service.ts";
import { readingService } from "./reading-service.ts";
import { sharedReadiness } from "./shared-readiness.ts";
import { recordRefusedCall, telemetryInterceptor } from "./telemetry-interceptor.ts";

export interface QueryDeps {
  logger: Logger;
  /** Shared database; opened from DATABASE_URL when absent. */
  database?: VigilDatabase;
  /** Shared bus; opened from NATS_URL when absent. */
  bus?: ReadingBus;
  /** Serve /metrics, /healthz and /readyz on QUERY_OPS_PORT (default). */
  opsServer?: boolean;
}

export interface QueryApp extends App {
  /** The bound port, known after start (useful with port 0). */
  readonly port: number;
  /** The bound ops port (0 when not serving one). */
  readonly opsPort: number;
}

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/**
 * The web-facing server: Connect (Connect-JSON, gRPC, gRPC-Web) on one port
 * with CORS — readings, auth, devices, dead letters and the audit log, all
 * behind one auth interceptor — plus /healthz (the process runs) and /readyz
 * (the database answers).
 */
/**
 * Tables the query service needs before it serves (one from each part of the API, the newest
 * included): it waits for them, its ops port alive and not ready, before it listens.
 */
export const QUERY_TABLES = [
  "devices",
  "readings",
  "sensors",
  "users",
  "refresh_tokens",
  "audit_log",
  "dead_letters",
  "alert_rules",
  "sites",
  "maintenance_forecasts",
] as const;

export function createQueryApp(config: QueryConfig, deps: QueryDeps): QueryApp {
  const log = deps.logger;
  let database = deps.database;
  let bus = deps.bus;
  let server: ApiServer | undefined;
  let ops: OpsServer | undefined;
  let tls: CertificateFiles | undefined;
  let tokenVersions: TokenVersions | undefined;
  const trustedProxy = proxyMatcher(config.QUERY_TRUSTED_PROXIES);
  let port = 0;
  let stopping = false;
  /** Set once start() has finished: not ready while it waits for its schema. */
  let serving = false;
  const shutdown = new AbortController();
  let alertHub: AlertWatchHub | undefined;
  /** Reads of readings, sign-outs and failed sign-ins, written to the audit log in batches. */
  let audit: AuditBatcher | undefined;
  let signInFailures: SignInFailures | undefined;

  /** Ready while the database and NATS (live tail, replays) answer. */
  async function ready(): Promise<boolean> {
    if (!serving || stopping || !database || !bus) return false;
    return bus.isConnected() && (await pingDatabase(database.db));
  }

  /** What anonymous callers on the API port get: one database round trip a second at most. */
  const readyNow = sharedReadiness(ready, 1_000);

  /**
   * /healthz and /readyz on the API port too, for load balancers that check
   * the port they send to; they tell nothing but up or down. /metrics is on
   * the ops port only.
   */
  function healthEndpoints(req: Req, res: Res): boolean {
    const path = req.url?.split("?")[0];
    if (path !== "/healthz" && path !== "/readyz") return false;
    void handleOpsRequest(req, res, { registry: metricsRegistry(), ready: readyNow });
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
    get opsPort() {
      return ops?.port ?? 0;
    },

    async start() {
      // Before anything connects: refuse plaintext where it must not be served.
      tls = await serverTransport(
        config,
        [
          { host: config.QUERY_HOST, what: "the query API" },
          ...(deps.opsServer !== false ? [{ host: config.QUERY_HOST, what: "the query service's ops port" }] : []),
        ],
        log,
      );
      database ??= await openDatabase(config.DATABASE_URL, {
        applicationName: "vigil-query",
        statementTimeoutMs: config.QUERY_STATEMENT_TIMEOUT_MS,
        latencyTuned: true,
      });
      if (deps.opsServer !== false) {
        ops = await startOpsServer({
          host: config.QUERY_HOST,
          port: config.QUERY_OPS_PORT,
          registry: metricsRegistry(),
          ready,
          tls,
        });
      }
      const schema = await waitForSchema(database.db, {
        component: "query service",
        tables: QUERY_TABLES,
        log,
        signal: shutdown.signal,
      });
      if (!schema) return;
      bus ??= await connectJetStreamBus({
        ...natsAccess(config, "query"),
        servers: config.NATS_URL,
        name: "vigil-query",
        stream: streamSettings(config),
        consumer: consumerSettings(config),
        publishTimeoutMs: config.NATS_PUBLISH_TIMEOUT_MS,
      });
      const db = database.db;
      const readyBus = bus;
      const hub = new AlertWatchHub(db);
      alertHub = hub;
      const batcher = new AuditBatcher(db, {
        maxPending: config.QUERY_AUDIT_MAX_PENDING,
        maxBatch: config.QUERY_AUDIT_MAX_BATCH,
      });
      audit = batcher;
      const failures = new SignInFailures({
        windowMs: config.AUTH_FAILED_SIGN_IN_WINDOW_MS,
        maxUsernames: config.AUTH_FAILED_SIGN_IN_MAX_USERNAMES,
        maxAddresses: 20,
        write: async (entries) => {
          try {
            await Promise.all(entries.map((e) => batcher.record(e)));
          } catch (err) {
            log.error({ err }, "could not write failed sign-ins to the audit log");
          }
        },
      });
      signInFailures = failures;
      const signer = await TokenSigner.create(secretValue(config.AUTH_JWT_KEYS, config.AUTH_JWT_KEYS_FILE));
      if (signer.ephemeral) {
        log.warn("AUTH_JWT_KEYS is not set: signing with a key generated at start; tokens end with this process");
      }
      await bootstrapAdmin(db);
      const perMinute = config.QUERY_USER_REQUESTS_PER_MIN;
      const versions = new TokenVersions({
        db,
        events: readyBus.userEvents,
        ttlMs: config.AUTH_TOKEN_VERSION_CACHE_MS,
        log,
      });
      versions.start();
      tokenVersions = versions;
      const auth = createAuth({
        tokenVersions: versions,
        signer,
        rules: accessRules({ openRegistration: config.AUTH_OPEN_REGISTRATION }),
        userLimiter: new KeyedLimiter(perMinute, Math.max(1, Math.ceil(perMinute / 10))),
        log,
      });
      // Methods anyone may call without signing in get the small body limit.
      const publicLimits = { readMaxBytes: config.QUERY_MAX_PUBLIC_REQUEST_BYTES };
      // The API's description, off unless asked for (QUERY_API_DOCS).
      const openApi = config.QUERY_API_DOCS ? openApiRoute() : () => false;
      const apiReference = config.QUERY_API_DOCS ? apiReferenceRoute() : () => false;
      // The console's static files, for every path the API does not own.
      const webConsole = consoleRoute(config.QUERY_CONSOLE_DIR, log);
      // Single sign-on (OIDC_ISSUER_URL): the browser's /auth/oidc routes and SsoService.
      const sso = oidcSettings(config, secretValue(config.OIDC_CLIENT_SECRET, config.OIDC_CLIENT_SECRET_FILE));
      ssoSignInCounter(); // on /metrics whether or not single sign-on is on, as every metric is
      const ssoRoutes = sso
        ? oidcRoutes({
            db,
            settings: sso,
            client: new OidcClient(sso, log),
            tokenVersions: versions,
            perAddress: new KeyedLimiter(sso.signInsPerAddressPerMin, sso.signInsPerAddressPerMin),
            clientAddress: (req) => clientAddress(req, trustedProxy),
            log,
          })
        : () => false;
      const connect = createConnectHandler({
        // Every request, compressed or not, is read only up to this size (decompressed).
        readMaxBytes: config.QUERY_MAX_REQUEST_BYTES,
        // A misspelt field must be an error, not ignored: {"filter": {"sensr": "x"}} would
        // otherwise widen an update or delete to every reading of the device.
        jsonOptions: { ignoreUnknownFields: false },
        async requestGate(ctx) {
          try {
            await auth.gate(ctx);
          } catch (err) {
            const refused = toConnectError(err, log, ctx.method.name);
            recordRefusedCall(log, `${ctx.service.typeName}/${ctx.method.name}`, refused);
            throw refused;
          }
        },
        routes: (router) => {
          router.service(
            ReadingService,
            readingService({
              db,
              bus: readyBus,
              watchBufferBatches: config.QUERY_WATCH_BUFFER_BATCHES,
              watches: new ConcurrencyLimit(config.QUERY_MAX_WATCHES_PER_USER),
              readingWindow: {
                maxAgeMs: config.READINGS_RETENTION_MS,
                maxFutureSkewMs: config.READINGS_MAX_FUTURE_SKEW_MS,
              },
              maxCorrectionRows: config.QUERY_MAX_CORRECTION_ROWS,
              access: config.QUERY_ACCESS_LOG_WAIT
                ? batcher
                : {
                    record: (entry) =>
                      batcher.enqueue(entry, (err) => log.error({ err }, "could not write an access entry")),
                  },
            }),
          );
          router.service(
            AuthService,
            authService({
              db,
              signer,
              accessTokenTtlMs: config.AUTH_ACCESS_TOKEN_TTL_MS,
              refreshTokenTtlMs: config.AUTH_REFRESH_TOKEN_TTL_MS,
              tokenVersions: versions,
              registrationsPerAddress: new KeyedLimiter(
                config.AUTH_REGISTRATIONS_PER_ADDRESS_PER_HOUR / 60,
                config.AUTH_REGISTRATIONS_PER_ADDRESS_PER_HOUR,
              ),
              loginFailuresPerUsername: new KeyedLimiter(
                config.AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN,
                config.AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN,
              ),
              loginFailuresPerAddress: new KeyedLimiter(
                config.AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN,
                config.AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN,
              ),
              // As strict as sign-ins per username: guessing through a stolen token is no cheaper.
              passwordChecksPerUser: new KeyedLimiter(
                config.AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN,
                config.AUTH_LOGIN_ATTEMPTS_PER_USERNAME_PER_MIN,
              ),
              signInFailures: failures,
              audit: batcher,
            }),
            publicLimits,
          );
          router.service(UserService, userService({ db, tokenVersions: versions }));
          router.service(
            SsoService,
            ssoService({
              db,
              settings: sso,
              signer,
              accessTokenTtlMs: config.AUTH_ACCESS_TOKEN_TTL_MS,
              refreshTokenTtlMs: config.AUTH_REFRESH_TOKEN_TTL_MS,
              exchangesPerAddress: new KeyedLimiter(
                config.AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN,
                config.AUTH_LOGIN_ATTEMPTS_PER_ADDRESS_PER_MIN,
              ),
            }),
            publicLimits,
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
          // open_alerts of the fleet summary: alerts of every rule, "maintenance due" among them.
          router.service(FleetService, fleetService({ db, openAlerts: (ids) => openAlertCounts(db, ids) }));
          router.service(ProcedureService, procedureService({ db }));
          router.service(MaintenanceService, maintenanceService({ db, settings: forecastSettings(config), log }));
          router.service(AlertService, alertService({ db, actor: actorOf, traceId: traceIdOf, hub }));
          const served = [
            ReadingService,
            AuthService,
            UserService,
            SsoService,
            DeviceService,
            DeadLetterService,
            AuditService,
            FleetService,
            ProcedureService,
            MaintenanceService,
            AlertService,
          ];
          router.service(
            health.Health,
            grpcHealth(
              served.map((s) => s.typeName),
              readyNow,
              new ConcurrencyLimit(config.QUERY_MAX_HEALTH_WATCHES_PER_ADDRESS, config.QUERY_MAX_HEALTH_WATCHES),
            ),
            publicLimits,
          );
          // Off unless asked for (QUERY_REFLECTION): it lists every method to anyone.
          if (config.QUERY_REFLECTION) {
            router.service(
              reflection.ServerReflection,
              grpcReflection([
                file_vigil_readings_v1_readings,
                file_vigil_auth_v1_auth,
                file_vigil_auth_v1_sso,
                file_vigil_devices_v1_devices,
                file_vigil_ingest_v1_dead_letters,
                file_vigil_audit_v1_audit,
                file_vigil_alerts_v1_alerts,
                file_vigil_fleet_v1_fleet,
                file_vigil_procedures_v1_procedures,
                file_vigil_maintenance_v1_maintenance,
                health.file_health_v1_health,
                reflection.file_grpc_reflection_v1_reflection,
              ]),
              publicLimits,
            );
          }
        },
        // Outermost first: errors are mapped for everything, including refused auth.
        interceptors: [
          telemetryInterceptor(log),
          errorInterceptor(log),
          auth.interceptor,
          streamRevocationInterceptor(versions),
        ],
        contextValues: (req) =>
          createContextValues()
            .set(clientAddressKey, clientAddress(req, trustedProxy))
            .set(cutConnectionKey, () => cutConnection(req)),
        fallback: (req, res) => {
          // The API reference before the console: its addresses without a dot would otherwise take /api-docs/.
          if (openApi(req, res) || apiReference(req, res) || webConsole(req, res)) return;
          res.statusCode = 404;
          res.end();
        },
      });
      server = createApiServer(
        (req, res) => {
          if (applyCors(config.QUERY_CORS_ORIGINS, req, res) || healthEndpoints(req, res) || ssoRoutes(req, res))
            return;
          connect(req, res);
        },
        {
          headersTimeoutMs: config.QUERY_HEADERS_TIMEOUT_MS,
          requestTimeoutMs: config.QUERY_REQUEST_TIMEOUT_MS,
          idleTimeoutMs: config.QUERY_IDLE_TIMEOUT_MS,
          maxConnectionsPerAddress: config.QUERY_MAX_CONNECTIONS_PER_ADDRESS,
          maxStreamsPerConnection: config.QUERY_MAX_STREAMS_PER_CONNECTION,
          isTrustedProxy: trustedProxy,
        },
        // TLS: HTTP/2 and HTTP/1.1 chosen by ALPN; plaintext (loopback or ALLOW_PLAINTEXT): by the first bytes.
        tls,
      );
      const listening = server;
      await new Promise<void>((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(config.QUERY_PORT, config.QUERY_HOST, () => resolve());
      });
      port = (listening.address() as AddressInfo).port;
      serving = true;
      log.info({ port, opsPort: ops?.port, tls: tls !== undefined }, "query service listening");
    },

    async stop() {
      stopping = true;
      shutdown.abort();
      alertHub?.stop();
      await server?.shutdown(5_000);
      tokenVersions?.stop();
      // After the last request: what they recorded is written before the database closes.
      await signInFailures?.flush();
      await audit?.close();
      await ops?.close();
      tls?.close();
      if (!deps.bus) await bus?.close();
      if (!deps.database) await database?.close();
      log.info("query service stopped");
    },
  };
}

import type http from "node:http";
import type http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { connectJetStreamBus, consumerSettings, type ReadingBus, streamSettings } from "@vigil/bus";
import { openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { DeadLetterService, DeviceService, ReadingService } from "@vigil/proto";
import type { App, Logger } from "@vigil/runtime";
import { adminGuard } from "./admin-guard.ts";
import type { QueryConfig } from "./config.ts";
import { applyCors } from "./cors.ts";
import { deadLetterService } from "./dead-letter-service.ts";
import { deviceService } from "./device-service.ts";
import { errorInterceptor } from "./errors.ts";
import { createDualProtocolServer, type DualServer } from "./http-server.ts";
import { readingService } from "./reading-service.ts";

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
 * with CORS, plus /healthz (the process runs) and /readyz (the database
 * answers).
 */
export function createQueryApp(config: QueryConfig, deps: QueryDeps): QueryApp {
  const log = deps.logger;
  let database = deps.database;
  let bus = deps.bus;
  let server: DualServer | undefined;
  let port = 0;
  let stopping = false;

  async function ready(): Promise<boolean> {
    if (stopping || !database) return false;
    try {
      await withTimeout(sql`SELECT 1`.execute(database.db), 2_000);
      return true;
    } catch {
      return false;
    }
  }

  function health(req: Req, res: Res): boolean {
    const path = req.url?.split("?")[0];
    if (req.method !== "GET" || (path !== "/healthz" && path !== "/readyz")) return false;
    const reply = (ok: boolean) => {
      res.statusCode = ok ? 200 : 503;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: ok ? "ok" : "unavailable" }));
    };
    if (path === "/healthz") reply(true);
    else void ready().then(reply);
    return true;
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
      // Until user authentication exists, admin calls are attributed to the API itself.
      const actor = () => "api:anonymous";
      const connect = connectNodeAdapter({
        routes: (router) => {
          router.service(ReadingService, readingService({ db }));
          router.service(DeviceService, deviceService({ db, actor, publish: (e) => readyBus.deviceEvents.publish(e) }));
          router.service(
            DeadLetterService,
            deadLetterService({
              db,
              bus: readyBus,
              actor,
              limits: {
                maxBatchReadings: Number.MAX_SAFE_INTEGER,
                maxAgeMs: config.READINGS_RETENTION_MS,
                maxFutureSkewMs: config.READINGS_MAX_FUTURE_SKEW_MS,
              },
            }),
          );
        },
        interceptors: [errorInterceptor(log), adminGuard(config.QUERY_DEVICE_ADMIN_ENABLED)],
      });
      server = createDualProtocolServer((req, res) => {
        if (applyCors(config.QUERY_CORS_ORIGINS, req, res) || health(req, res)) return;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), ms).unref()),
  ]);
}

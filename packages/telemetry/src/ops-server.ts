import http from "node:http";
import type { AddressInfo } from "node:net";
import { type CertificateFiles, createApiTlsServer } from "@vigil/tls";
import type { Registry } from "prom-client";

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Readiness: the service can do its work (its database and NATS answer). */
  ready: () => Promise<boolean>;
  /** Serve HTTPS (HTTP/2 and HTTP/1.1) with these certificate files, renewed without a restart. */
  tls?: CertificateFiles;
}

/**
 * The HTTP side of a service without one of its own (receiver, writer,
 * lifecycle, simulator): GET /healthz (the process runs), /readyz (it can
 * do its work) and /metrics (Prometheus text format).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const handler = (req: http.IncomingMessage, res: OpsResponse) => {
    void handleOpsRequest(req, res, options).then(
      (handled) => {
        if (handled) return;
        res.statusCode = 404;
        res.end();
      },
      () => {
        res.statusCode = 500;
        res.end();
      },
    );
  };
  const tlsServer = options.tls ? createApiTlsServer(handler as never, options.tls) : undefined;
  const server = tlsServer ?? http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      tlsServer
        ? tlsServer.shutdown(0)
        : new Promise<void>((resolve) => {
            server.close(() => resolve());
            (server as http.Server).closeAllConnections();
          }),
  };
}

/** Answers /healthz, /readyz and /metrics; false for anything else (the caller handles it). */
export async function handleOpsRequest(
  req: { method?: string; url?: string },
  res: OpsResponse,
  options: Pick<OpsServerOptions, "registry" | "ready">,
): Promise<boolean> {
  const path = req.url?.split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") return notFound(res, path);
  if (path === "/healthz") return reply(res, 200, "application/json", JSON.stringify({ status: "ok" }));
  if (path === "/readyz") {
    const ok = await options.ready().catch(() => false);
    return reply(res, ok ? 200 : 503, "application/json", JSON.stringify({ status: ok ? "ok" : "unavailable" }));
  }
  if (path === "/metrics") return reply(res, 200, options.registry.contentType, await options.registry.metrics());
  return notFound(res, path);
}

/** What the ops endpoints need of an HTTP/1.1 or HTTP/2 response. */
export interface OpsResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string): unknown;
  end(): unknown;
}

function reply(res: OpsResponse, status: number, type: string, body: string): true {
  res.statusCode = status;
  res.setHeader("content-type", type);
  res.end(body);
  return true;
}

function notFound(res: OpsResponse, path: string | undefined): boolean {
  if (path !== "/healthz" && path !== "/readyz" && path !== "/metrics") return false;
  res.statusCode = 405;
  res.end();
  return true;
}

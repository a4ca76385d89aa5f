import type http from "node:http";
import http2 from "node:http2";
import type tls from "node:tls";
import type { CertificateFiles } from "./certificate-files.ts";
import { followRenewals, secureContextOptions } from "./https-options.ts";

export type ApiRequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export type ApiServer = http2.Http2SecureServer & {
  /** Stops accepting, lets requests in flight finish for up to graceMs, then closes every connection. */
  shutdown(graceMs: number): Promise<void>;
};

/**
 * One TLS port for HTTP/2 and HTTP/1.1, chosen by ALPN (`h2`, `http/1.1`):
 * gRPC, Connect and gRPC-Web from any client, curl and browsers. TLS 1.2 at
 * least (1.3 preferred). The certificate follows `files`: a renewed pair is
 * used for new connections while open ones (and their streams) carry on.
 */
export function createApiTlsServer(handler: ApiRequestHandler, files: CertificateFiles): ApiServer {
  let stopping = false;
  const sockets = new Set<tls.TLSSocket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1.1 requests in progress per TLS socket: a socket at 0 is an idle keep-alive. */
  const active = new Map<tls.TLSSocket, number>();
  const server = http2.createSecureServer(
    { ...secureContextOptions(files.material), allowHTTP1: true, ALPNProtocols: ["h2", "http/1.1"] },
    (req, res) => {
      if (req.httpVersionMajor === 1) {
        const socket = req.socket as tls.TLSSocket;
        active.set(socket, (active.get(socket) ?? 0) + 1);
        res.on("close", () => {
          const left = (active.get(socket) ?? 1) - 1;
          active.set(socket, left);
          if (stopping && left === 0) socket.destroy();
        });
        if (stopping) res.setHeader("connection", "close");
      }
      handler(req, res);
    },
  ) as ApiServer;
  const unfollow = followRenewals(server, files);
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      active.delete(socket);
    });
  });
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  // A client that fails the handshake (wrong CA, plaintext on the TLS port) is its own problem.
  server.on("tlsClientError", () => {});
  server.shutdown = async (graceMs) => {
    stopping = true;
    unfollow();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // HTTP/2 sessions get GOAWAY and finish their streams; idle HTTP/1.1 keep-alives close now,
    // busy ones after their response; whatever is left after the grace period is cut.
    for (const session of sessions) session.close();
    for (const socket of sockets) {
      if (socket.alpnProtocol !== "h2" && (active.get(socket) ?? 0) === 0) socket.destroy();
    }
    const timer = setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  };
  return server;
}

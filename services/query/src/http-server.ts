import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import { Duplex, PassThrough } from "node:stream";
import type tls from "node:tls";
import { type CertificateFiles, followRenewals, secureContextOptions } from "@vigil/tls";

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** How long connections and requests may take, and how many one client may hold. */
export interface ApiServerLimits {
  /** A connection must send its first bytes and complete request headers within this time. */
  headersTimeoutMs: number;
  /** A request must arrive whole (headers and body) within this time; responses (watches) may last longer. */
  requestTimeoutMs: number;
  /** A connection with nothing in progress (HTTP/1.1 keep-alive, HTTP/2 without streams) closes after this. */
  idleTimeoutMs: number;
  /** Open connections one client address may hold; more are closed at once. */
  maxConnectionsPerAddress: number;
  /** Concurrent streams one HTTP/2 connection may carry (advertised in SETTINGS). */
  maxStreamsPerConnection: number;
  /** Peers exempt from the per-address cap: trusted proxies carry many clients on their connections. */
  isTrustedProxy?: (address: string) => boolean;
}

export type ApiServer = net.Server & {
  /** Stops accepting, lets requests in flight finish for up to graceMs, then closes every connection. */
  shutdown(graceMs: number): Promise<void>;
};

/** The HTTP/2 connection preface starts with these bytes; no HTTP/1.1 method does. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * The query port's transport, set up in this one place: HTTP/1.1 (Connect-JSON
 * from browsers and curl, gRPC-Web) and HTTP/2 (gRPC, Connect) on one port,
 * every connection bounded in time and number.
 *
 * Node offers both protocols on one port only over TLS (`http2.createSecureServer`
 * with `allowHTTP1`, chosen by ALPN, with Node's own HTTP/1.1 timeouts). In
 * cleartext, HTTP/2 comes with prior knowledge and only the first bytes tell
 * the two apart, so this server sniffs them, under the same deadline as
 * request headers. The HTTP/1.1 server is the one that listens, so Node's
 * header, request and keep-alive timeouts run on every HTTP/1.1 connection;
 * a sniffed HTTP/1.1 connection is handed to Node's own HTTP/1.1 connection
 * listener, exactly as Node's TLS server does after ALPN. HTTP/2 sessions get
 * the equivalent by hand: an idle timeout (no open stream) and a deadline for
 * each request to arrive whole.
 */
export function createApiServer(handler: RequestHandler, limits: ApiServerLimits, tls?: CertificateFiles): ApiServer {
  if (tls) return createTlsApiServer(handler, limits, tls);
  let stopping = false;
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1.1 requests in progress per socket: a socket at 0 is an idle keep-alive. */
  const active = new Map<net.Socket, number>();
  /** Open connections per client address (the per-address cap). */
  const perAddress = new Map<string, number>();

  const h1 = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would let them overrun by that much).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
      const socket = req.socket;
      active.set(socket, (active.get(socket) ?? 0) + 1);
      res.on("close", () => {
        const left = (active.get(socket) ?? 1) - 1;
        active.set(socket, left);
        if (stopping && left === 0) socket.destroy();
      });
      if (stopping) res.setHeader("connection", "close");
      handler(req, res);
    },
  ) as unknown as http.Server & ApiServer;
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxStreamsPerConnection } }, handler);
  h2.on("session", (session) => {
    sessions.add(session);
    boundSession(session, limits);
    session.on("close", () => sessions.delete(session));
  });

  // Node's HTTP/1.1 connection listener; it runs once sniffing says HTTP/1.1.
  const [http1Connection] = h1.listeners("connection") as Array<(socket: net.Socket) => void>;
  if (!http1Connection) throw new Error("node:http server without a connection listener");
  h1.removeAllListeners("connection");
  h1.on("connection", (socket: net.Socket) => {
    const address = socket.remoteAddress ?? "unknown";
    const exempt = limits.isTrustedProxy?.(address) ?? false;
    const open = perAddress.get(address) ?? 0;
    if (!exempt && open >= limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, open + 1);
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      active.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
    socket.on("error", () => socket.destroy());
    // The first bytes must come as fast as request headers would.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const decided = head.length >= H2_PREFACE.length || !H2_PREFACE.subarray(0, head.length).equals(head);
      if (!decided) return;
      socket.off("data", onData);
      socket.setTimeout(0);
      socket.pause();
      if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) {
        h2.emit("connection", replaying(socket, head));
      } else {
        active.set(socket, 0);
        socket.unshift(head);
        http1Connection.call(h1, socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  });

  h1.shutdown = async (graceMs) => {
    stopping = true;
    const closed = new Promise<void>((resolve) => h1.close(() => resolve()));
    // HTTP/2 sessions get GOAWAY and finish their streams; idle HTTP/1.1
    // keep-alives close now, busy ones after their response; whatever is
    // left after the grace period is cut.
    for (const session of sessions) session.close();
    for (const [socket, requests] of active) if (requests === 0) socket.destroy();
    const timer = setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  };
  return h1;
}

/**
 * The same port over TLS: Node's own HTTP/2 server with `allowHTTP1`, the
 * protocol chosen by ALPN (`h2`, `http/1.1`), so no sniffing. The limits are
 * the same: HTTP/1.1 gets Node's header, request and keep-alive timeouts
 * (set on the server, which hands HTTP/1.1 connections to Node's HTTP/1.1
 * connection listener), HTTP/2 sessions boundSession's, the TLS handshake
 * the headers' deadline, and every connection counts against its address.
 * A renewed certificate (CertificateFiles) is used for new connections;
 * open ones and their streams carry on.
 */
function createTlsApiServer(handler: RequestHandler, limits: ApiServerLimits, files: CertificateFiles): ApiServer {
  let stopping = false;
  const sockets = new Set<tls.TLSSocket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const active = new Map<net.Socket, number>();
  const perAddress = new Map<string, number>();
  const server = http2.createSecureServer(
    {
      ...secureContextOptions(files.material),
      allowHTTP1: true,
      ALPNProtocols: ["h2", "http/1.1"],
      settings: { maxConcurrentStreams: limits.maxStreamsPerConnection },
      handshakeTimeout: limits.headersTimeoutMs,
    },
    (req, res) => {
      if (req.httpVersionMajor === 1) {
        const socket = req.socket as net.Socket;
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
  );
  // Read by Node's HTTP/1.1 connection listener, which serves the http/1.1 side of allowHTTP1.
  Object.assign(server, {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  });
  const unfollow = followRenewals(server, files);
  // Counted before the handshake: a client cannot hold more connections than the cap by stalling it.
  server.on("connection", (socket: net.Socket) => {
    const address = socket.remoteAddress ?? "unknown";
    const exempt = limits.isTrustedProxy?.(address) ?? false;
    const open = perAddress.get(address) ?? 0;
    if (!exempt && open >= limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(address, open + 1);
    socket.on("close", () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      active.delete(socket);
    });
  });
  server.on("session", (session) => {
    sessions.add(session);
    boundSession(session, limits);
    session.on("close", () => sessions.delete(session));
  });
  // A client that fails the handshake (wrong CA, plaintext on the TLS port) is its own problem.
  server.on("tlsClientError", () => {});
  const api = server as unknown as ApiServer;
  api.shutdown = async (graceMs) => {
    stopping = true;
    unfollow();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of sessions) session.close();
    for (const socket of sockets) if (socket.alpnProtocol !== "h2" && (active.get(socket) ?? 0) === 0) socket.destroy();
    const timer = setTimeout(() => {
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
  };
  return api;
}

/**
 * An HTTP/2 session's share of the limits HTTP/1.1 gets from Node: it closes
 * (GOAWAY) after idleTimeoutMs without an open stream, and a stream whose
 * request has not arrived whole within requestTimeoutMs is reset. A stream
 * whose request is complete may then stay open for as long as its response
 * runs (WatchReadings).
 */
function boundSession(session: http2.ServerHttp2Session, limits: ApiServerLimits): void {
  let streams = 0;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    idle = setTimeout(() => {
      session.close();
      // A peer that does not read our GOAWAY still goes.
      setTimeout(() => session.destroy(), 1_000).unref();
    }, limits.idleTimeoutMs);
    idle.unref();
  };
  armIdle();
  session.on("stream", (stream: http2.ServerHttp2Stream, _headers, flags: number) => {
    streams++;
    clearTimeout(idle);
    let deadline: NodeJS.Timeout | undefined;
    // END_STREAM on the HEADERS frame: the request is already whole.
    if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) === 0) {
      deadline = setTimeout(() => {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      }, limits.requestTimeoutMs);
      deadline.unref();
      stream.once("end", () => clearTimeout(deadline));
    }
    stream.once("close", () => {
      clearTimeout(deadline);
      streams--;
      if (streams === 0 && !session.closed && !session.destroyed) armIdle();
    });
  });
  session.once("close", () => clearTimeout(idle));
}

/** Client addresses of the duplexes HTTP/2 connections run on (their sockets hide it). */
const addresses = new WeakMap<object, string>();

/** The address of the peer a request came over, HTTP/1.1 or HTTP/2 (a proxy, when there is one). */
export function peerAddress(req: http.IncomingMessage | http2.Http2ServerRequest): string {
  const socket = req.socket as (net.Socket & { stream?: object }) | undefined;
  if (socket?.remoteAddress) return socket.remoteAddress;
  return (socket?.stream && addresses.get(socket.stream)) ?? "unknown";
}

/**
 * Ends a request at once: an HTTP/2 stream is reset (its connection lives on
 * for other streams), an HTTP/1.1 connection is closed.
 */
export function cutConnection(req: http.IncomingMessage | http2.Http2ServerRequest): void {
  if ("stream" in req && req.stream) req.stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  else req.socket?.destroy();
}

/**
 * The socket with the bytes already read put back in front. HTTP/2 reads
 * from the native handle, where socket.unshift() cannot reach, so it gets
 * a JS duplex instead (Node wraps it in a JSStreamSocket).
 */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const input = new PassThrough();
  input.write(head);
  socket.pipe(input);
  socket.resume();
  const duplex = Duplex.from({ readable: input, writable: socket });
  addresses.set(duplex, socket.remoteAddress ?? "unknown");
  socket.on("close", () => duplex.destroy());
  duplex.on("close", () => socket.destroy());
  return duplex;
}

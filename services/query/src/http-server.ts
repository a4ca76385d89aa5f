import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex, PassThrough } from "node:stream";

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export type DualServer = net.Server & {
  /** Stops accepting, lets requests in flight finish for up to graceMs, then closes every connection. */
  shutdown(graceMs: number): Promise<void>;
};

/** The HTTP/2 connection preface starts with these bytes; no HTTP/1.1 method does. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * One cleartext port for HTTP/1.1 (Connect-JSON from browsers and curl,
 * gRPC-Web) and HTTP/2 with prior knowledge (gRPC, Connect over h2c). Node
 * negotiates the two only over TLS, so the first bytes of each connection
 * pick the parser.
 */
export function createDualProtocolServer(handler: RequestHandler): DualServer {
  let stopping = false;
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/1.1 requests in progress per socket: a socket at 0 is an idle keep-alive. */
  const active = new Map<net.Socket, number>();

  const h1 = http.createServer((req, res) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    res.on("close", () => {
      const left = (active.get(socket) ?? 1) - 1;
      active.set(socket, left);
      if (stopping && left === 0) socket.destroy();
    });
    if (stopping) res.setHeader("connection", "close");
    handler(req, res);
  });
  const h2 = http2.createServer({}, handler);
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      active.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const decided = head.length >= H2_PREFACE.length || !H2_PREFACE.subarray(0, head.length).equals(head);
      if (!decided) return;
      socket.off("data", onData);
      socket.pause();
      if (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) {
        h2.emit("connection", replaying(socket, head));
      } else {
        active.set(socket, 0);
        socket.unshift(head);
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }) as DualServer;

  server.shutdown = async (graceMs) => {
    stopping = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
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
  return server;
}

/** Client addresses of the duplexes HTTP/2 connections run on (their sockets hide it). */
const addresses = new WeakMap<object, string>();

/** The address a request came from, over HTTP/1.1 or HTTP/2. */
export function clientAddress(req: http.IncomingMessage | http2.Http2ServerRequest): string {
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

import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** The HTTP/2 connection preface starts with these bytes; no HTTP/1.1 method does. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * One cleartext port for HTTP/1.1 (Connect-JSON from browsers and curl,
 * gRPC-Web) and HTTP/2 with prior knowledge (gRPC, Connect over h2c). Node
 * negotiates the two only over TLS, so the first bytes of each connection
 * pick the parser.
 */
export function createDualProtocolServer(handler: RequestHandler): net.Server {
  const h1 = http.createServer(handler);
  const h2 = http2.createServer({}, handler);
  // Keep-alive connections must not outlive a shutdown forever.
  h1.keepAliveTimeout = 5_000;
  const server = net.createServer((socket) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const decided = head.length >= H2_PREFACE.length || !H2_PREFACE.subarray(0, head.length).equals(head);
      if (!decided) return;
      socket.off("data", onData);
      socket.pause();
      socket.unshift(head);
      const isH2 = head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
      (isH2 ? h2 : h1).emit("connection", socket);
      socket.resume();
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  server.on("close", () => {
    h1.close();
    h2.close();
  });
  // Closing the listener does not end open connections: do that on demand.
  (server as DualServer).closeAllConnections = () => {
    h1.closeAllConnections();
  };
  return server;
}

export type DualServer = net.Server & { closeAllConnections(): void };

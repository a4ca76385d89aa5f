import type http from "node:http";
import type http2 from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import { createAsyncIterable, type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { fastBrotli, fastGzip } from "./response-compression.ts";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

export interface ConnectHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  /** Values every call's context starts with (the client's address…). */
  contextValues?(req: Req): ContextValues;
  /** Answers requests for paths no procedure serves. */
  fallback(req: Req, res: Res): void;
}

/** What the request gate saw, for the answer's HTTP status. */
const callKey = createContextKey<{ signal?: AbortSignal } | undefined>(undefined, { description: "vigil call state" });

/**
 * Connect, gRPC and gRPC-Web on Node's HTTP servers: connect-node's adapter
 * (its public building blocks, nothing private), plus two corrections to the
 * HTTP status of Connect unary errors that connect-es leaves to the
 * application:
 *
 * - A request refused for its size (readMaxBytes: the body, or the body
 *   after decompression) is `resource_exhausted` as the protocol says, with
 *   HTTP 413 Content Too Large instead of 429 Too Many Requests, which would
 *   tell clients to retry the same body. Rate limits stay 429 with Retry-After.
 * - A body that is not the protobuf binary message its content type says
 *   (`application/proto` holding JSON) is the client's error,
 *   `invalid_argument` / 400, not `internal` / 500.
 *
 * An HTTP/1.1 request answered before its body was read in full (refused
 * for its size, its token…) gets a lingering close, as nginx does: the
 * rest of the body is read and dropped for at most LINGER_MS, then the
 * connection is closed. Closing at once would make the kernel answer the
 * bytes still coming with a reset, and the client would lose the answer.
 */
export function createConnectHandler(options: ConnectHandlerOptions): (req: Req, res: Res) => void {
  const gate = options.requestGate;
  const router = createConnectRouter({
    acceptCompression: [fastGzip, fastBrotli],
    ...options,
    async requestGate(ctx: HandlerContext) {
      const call = ctx.values.get(callKey);
      if (call) call.signal = ctx.signal;
      await gate?.(ctx);
    },
  });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));

  return (req, res) => {
    const handler = paths.get(req.url?.split("?", 1)[0] ?? "");
    if (!handler) return options.fallback(req, res);
    const call: { signal?: AbortSignal } = {};
    const values = (options.contextValues?.(req) ?? createContextValues()).set(callKey, call);
    const uReq = universalRequestFromNodeRequest(req, res, undefined, values);
    const http1 = "httpVersionMajor" in req && req.httpVersionMajor === 1;
    // Stopping early must not destroy the request (and its socket) before the answer is out.
    if (http1) uReq.body = req.iterator({ destroyOnReturn: false });
    handler(uReq)
      .then(async (uRes) => {
        const out = isConnectUnary(req)
          ? correctedStatus(uRes, call.signal?.reason, handler.method.input.typeName)
          : uRes;
        await universalResponseToNodeResponse(out, res);
        if (http1 && !req.complete) linger(req as http.IncomingMessage);
      })
      .catch((reason) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      });
  };
}

/** How long the rest of an unread HTTP/1.1 request body is read and dropped before its connection is closed. */
export const LINGER_MS = 2_000;

function linger(req: http.IncomingMessage): void {
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
  req.resume();
}

/** Connect unary requests: POST application/json or application/proto, or GET (side-effect-free methods). */
function isConnectUnary(req: Req): boolean {
  if (req.method === "GET") return true;
  return /^application\/(json|proto)(;|$)/i.test(req.headers["content-type"] ?? "");
}

function correctedStatus(uRes: UniversalServerResponse, reason: unknown, inputType: string): UniversalServerResponse {
  if (!(reason instanceof ConnectError) || uRes.status < 400) return uRes;
  // connect-es's read limits (body length, envelope length, output of decompression) all name readMaxBytes.
  if (reason.code === Code.ResourceExhausted && reason.rawMessage.includes("readMaxBytes")) {
    return { ...uRes, status: 413 };
  }
  if (reason.code === Code.Internal && reason.rawMessage.startsWith("parse binary")) {
    const body = errorToJsonBytes(
      new ConnectError(`the request body is not a ${inputType} in the protobuf binary format`, Code.InvalidArgument),
      {},
    );
    const header = new Headers(uRes.header);
    header.set("content-length", String(body.byteLength));
    return { ...uRes, status: 400, header, body: createAsyncIterable([body]) };
  }
  return uRes;
}

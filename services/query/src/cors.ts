import type http from "node:http";
import type http2 from "node:http2";
import { cors } from "@connectrpc/connect";

/**
 * CORS for browser clients (Connect-JSON and gRPC-Web) on other origins,
 * with the headers connect-es lists. Only the origins listed are answered
 * (never `*`: calls carry bearer tokens); for any other origin no CORS
 * header is sent, so browsers keep the page from reading the answer.
 * Returns true when it answered a preflight itself.
 */
export function applyCors(
  allowedOrigins: string[],
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== "string") return false;
  if (!allowedOrigins.includes(origin)) return false;
  res.setHeader("Access-Control-Allow-Origin", origin);
  res.setHeader("Vary", "Origin");
  // Retry-After: how long a rate-limited browser client waits (also in the error's google.rpc.RetryInfo).
  res.setHeader("Access-Control-Expose-Headers", [...cors.exposedHeaders, "Retry-After"].join(", "));
  if (req.method !== "OPTIONS") return false;
  res.setHeader("Access-Control-Allow-Methods", cors.allowedMethods.join(", "));
  res.setHeader("Access-Control-Allow-Headers", [...cors.allowedHeaders, "Authorization"].join(", "));
  res.setHeader("Access-Control-Max-Age", "7200");
  res.statusCode = 204;
  res.end();
  return true;
}

import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { SessionStore } from "../auth/session.ts";

/**
 * The Connect transport to the query service that served the page (same
 * origin: the Content-Security-Policy allows no other). Binary protobuf,
 * which is smaller and cheaper to decode than JSON for live readings.
 */
export function createApiTransport(interceptors: Interceptor[] = []): Transport {
  return createConnectTransport({ baseUrl: window.location.origin, useBinaryFormat: true, interceptors });
}

/**
 * Sends the session's access token with every call. A unary call refused
 * with Unauthenticated (the token was revoked or expired in between) is
 * retried once after a refresh, so the user never sees it; streams
 * reconnect by themselves and get a fresh token then.
 */
export function sessionInterceptor(session: SessionStore): Interceptor {
  return (next) => async (req) => {
    const token = await session.accessToken();
    if (token) req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (!token || req.stream || ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      const fresh = await session.refresh(token);
      if (!fresh) throw err;
      req.header.set("authorization", `Bearer ${fresh.accessToken}`);
      return await next(req);
    }
  };
}

/** A sentence for the user from any error an API call throws. */
export function errorMessage(err: unknown): string {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unavailable:
      return "The Vigil server cannot be reached. Check the connection; the page retries by itself.";
    case Code.PermissionDenied:
      return "Your account is not allowed to do this.";
    case Code.Unauthenticated:
      return "Your session has ended: sign in again.";
    case Code.ResourceExhausted:
      return `Too many requests: ${e.rawMessage}`;
    default:
      return e.rawMessage || "Something went wrong.";
  }
}

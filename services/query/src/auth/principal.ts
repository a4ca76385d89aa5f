import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Principal } from "./token-signer.ts";

/** The verified caller, set by the auth interceptor; undefined on public methods without a token. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "vigil principal" });

/** The client's address, set by the HTTP adapter (for per-address login limits). */
export const clientAddressKey = createContextKey<string>("unknown", { description: "client address" });

export function principalOf(ctx: HandlerContext): Principal | undefined {
  return ctx.values.get(principalKey);
}

/** How the audit log names the caller: "user:<name>". */
export function actorOf(ctx: HandlerContext): string {
  const p = principalOf(ctx);
  return p ? `user:${p.username}` : "anonymous";
}

/** The trace id from a W3C traceparent header, when the caller sent one. */
export function traceIdOf(ctx: HandlerContext): string | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(
    ctx.requestHeader.get("traceparent") ?? "",
  );
  return match?.[1];
}

/** Resets the request's stream or connection at once (a watcher that stopped reading). */
export const cutConnectionKey = createContextKey<() => void>(() => {}, { description: "cut the connection" });

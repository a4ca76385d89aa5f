import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { principalKey } from "./principal.ts";
import type { Principal } from "./token-signer.ts";
import type { TokenVersions } from "./token-versions.ts";

/**
 * Ends a server stream (WatchReadings, WatchAlerts) the moment its access
 * token stops being good: the user was disabled, deleted, changed role or
 * password, or signed out, on this replica or another. The auth gate checks
 * a token once, when the stream opens; without this a live tail would go on
 * for as long as the connection lasts. The client gets Unauthenticated and
 * reconnects with a refreshed token, if it still can.
 */
export function streamRevocationInterceptor(tokenVersions: TokenVersions): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    const principal = req.contextValues.get(principalKey);
    if (!res.stream || !principal) return res;
    return { ...res, message: endWhenRevoked(res.message, principal, tokenVersions) };
  };
}

async function* endWhenRevoked<T>(
  messages: AsyncIterable<T>,
  principal: Principal,
  tokenVersions: TokenVersions,
): AsyncGenerator<T> {
  let revoke: () => void = () => {};
  const revoked = new Promise<never>((_, reject) => {
    revoke = () =>
      reject(
        new ConnectError(
          "access token was revoked (signed out, or the account changed): sign in again or refresh",
          Code.Unauthenticated,
        ),
      );
  });
  revoked.catch(() => {}); // Only observed while the stream runs.
  const stop = tokenVersions.onRaised((userId, version) => {
    if (userId === principal.userId && version > principal.tokenVersion) revoke();
  });
  const iterator = messages[Symbol.asyncIterator]();
  try {
    // A version may have moved on between the gate's check and here.
    if (!(await tokenVersions.isCurrent(principal.userId, principal.tokenVersion))) revoke();
    for (;;) {
      const next = await Promise.race([iterator.next(), revoked]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    stop();
    // The handler's own cleanup runs on its abort signal, which Connect fires when this stream ends.
    void iterator.return?.()?.catch(() => {});
  }
}

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "@vigil/runtime";
import { retryInfoDetail } from "../errors.ts";
import type { Access, accessRules } from "./access-rules.ts";
import type { KeyedLimiter } from "./keyed-limiter.ts";
import { principalKey } from "./principal.ts";
import type { Principal, TokenSigner } from "./token-signer.ts";

export interface AuthInterceptorDeps {
  signer: TokenSigner;
  rules: ReturnType<typeof accessRules>;
  /** Requests per signed-in user. */
  userLimiter: KeyedLimiter;
  log: Logger;
}

/**
 * Authenticates every call and enforces the access table: no token where
 * one is needed → Unauthenticated; a token without the method's scope →
 * PermissionDenied; a user over their request rate → ResourceExhausted
 * with a retry-after header. Handlers never check roles themselves.
 */
export function authInterceptor(deps: AuthInterceptorDeps): Interceptor {
  return (next) => async (req) => {
    const name = `${req.service.typeName}/${req.method.name}`;
    const rule = deps.rules.get(name);
    if (rule === undefined) throw new ConnectError(`no access rule for ${name}`, Code.PermissionDenied);
    const message = (req.stream ? undefined : req.message) as MessageShape<DescMessage> | undefined;
    // Rules that depend on the request need its message; client streams get the strictest reading.
    const access: Access = typeof rule === "function" ? (message ? rule(message) : "users:admin") : rule;
    const principal = await authenticate(req.header.get("authorization"), deps, access === "public");
    if (access !== "public") {
      if (!principal)
        throw new ConnectError("sign in: send Authorization: Bearer <access token>", Code.Unauthenticated);
      if (access !== "signed-in" && !principal.scopes.includes(access)) {
        throw new ConnectError(`${name} needs the ${access} scope`, Code.PermissionDenied);
      }
      const wait = deps.userLimiter.take(String(principal.userId));
      if (wait > 0) throw tooManyRequests(wait, "too many requests");
    }
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

async function authenticate(
  header: string | null,
  deps: AuthInterceptorDeps,
  optional: boolean,
): Promise<Principal | undefined> {
  if (!header) return undefined;
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header);
  if (!match) {
    if (optional) return undefined;
    throw new ConnectError("Authorization must be 'Bearer <access token>'", Code.Unauthenticated);
  }
  try {
    return await deps.signer.verify(match[1]!);
  } catch (err) {
    deps.log.debug({ err }, "access token refused");
    throw new ConnectError("access token is invalid or expired: sign in again or refresh", Code.Unauthenticated);
  }
}

/**
 * ResourceExhausted with a retry hint: seconds in the retry-after header (exposed to browsers by CORS)
 * and a google.rpc.RetryInfo detail.
 */
export function tooManyRequests(waitMs: number, what: string): ConnectError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new ConnectError(
    `${what}: retry in ${seconds} s`,
    Code.ResourceExhausted,
    { "retry-after": String(seconds) },
    [retryInfoDetail(seconds * 1000)],
  );
}

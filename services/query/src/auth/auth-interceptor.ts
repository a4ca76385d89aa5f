import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "@vigil/runtime";
import { retryInfoDetail } from "../errors.ts";
import type { Access, accessRules } from "./access-rules.ts";
import type { KeyedLimiter } from "./keyed-limiter.ts";
import { principalKey } from "./principal.ts";
import type { Principal, TokenSigner } from "./token-signer.ts";
import type { TokenVersions } from "./token-versions.ts";

export interface AuthDeps {
  signer: TokenSigner;
  rules: ReturnType<typeof accessRules>;
  /** Requests per signed-in user. */
  userLimiter: KeyedLimiter;
  /** Access tokens of a user whose version moved on (signed out, role changed, disabled) are refused. */
  tokenVersions: TokenVersions;
  log: Logger;
}

export interface Auth {
  /**
   * Connect's request gate: runs on the headers, before any byte of the
   * body is read, decompressed or parsed. It authenticates the caller and
   * enforces every rule that does not depend on the request, so an
   * anonymous client cannot make the server read a body meant for a
   * signed-in one.
   */
  gate(ctx: HandlerContext): Promise<void>;
  /** Enforces the rules that depend on the request message (Register's role), once it is parsed. */
  interceptor: Interceptor;
}

/**
 * Authenticates every call and enforces the access table: no token where
 * one is needed → Unauthenticated; a token without the method's scope →
 * PermissionDenied; a user over their request rate → ResourceExhausted
 * with a retry-after header. Handlers never check roles themselves.
 */
export function createAuth(deps: AuthDeps): Auth {
  return {
    async gate(ctx) {
      const name = `${ctx.service.typeName}/${ctx.method.name}`;
      const rule = deps.rules.get(name);
      if (rule === undefined) throw new ConnectError(`no access rule for ${name}`, Code.PermissionDenied);
      const fixed = typeof rule === "function" ? undefined : rule;
      const principal = await authenticate(
        ctx.requestHeader.get("authorization"),
        deps,
        fixed !== undefined && fixed !== "public",
      );
      ctx.values.set(principalKey, principal);
      if (fixed !== undefined) enforce(name, fixed, principal, deps);
    },

    interceptor: (next) => async (req) => {
      const name = `${req.service.typeName}/${req.method.name}`;
      const rule = deps.rules.get(name);
      if (typeof rule === "function") {
        // Client streams have no single message: they get the strictest reading.
        const message = (req.stream ? undefined : req.message) as MessageShape<DescMessage> | undefined;
        enforce(name, message ? rule(message) : "users:admin", req.contextValues.get(principalKey), deps);
      } else if (rule === undefined) {
        throw new ConnectError(`no access rule for ${name}`, Code.PermissionDenied);
      }
      return next(req);
    },
  };
}

function enforce(name: string, access: Access, principal: Principal | undefined, deps: AuthDeps): void {
  if (access === "public") return;
  if (!principal) throw new ConnectError("sign in: send Authorization: Bearer <access token>", Code.Unauthenticated);
  if (access !== "signed-in" && !principal.scopes.includes(access)) {
    throw new ConnectError(`${name} needs the ${access} scope`, Code.PermissionDenied);
  }
  const wait = deps.userLimiter.take(String(principal.userId));
  if (wait > 0) throw tooManyRequests(wait, "too many requests");
}

async function authenticate(header: string | null, deps: AuthDeps, required: boolean): Promise<Principal | undefined> {
  if (!header) return undefined;
  const match = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/.exec(header);
  if (!match) {
    if (!required) return undefined;
    throw new ConnectError("Authorization must be 'Bearer <access token>'", Code.Unauthenticated);
  }
  let principal: Principal;
  try {
    principal = await deps.signer.verify(match[1]!);
  } catch (err) {
    deps.log.debug({ err }, "access token refused");
    throw new ConnectError("access token is invalid or expired: sign in again or refresh", Code.Unauthenticated);
  }
  let current: boolean;
  try {
    current = await deps.tokenVersions.isCurrent(principal.userId, principal.tokenVersion);
  } catch (err) {
    deps.log.warn({ err }, "could not check an access token's version");
    throw new ConnectError("cannot verify the access token right now: retry", Code.Unavailable);
  }
  if (!current) {
    throw new ConnectError(
      "access token was revoked (signed out, or the account changed): sign in again or refresh",
      Code.Unauthenticated,
    );
  }
  return principal;
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

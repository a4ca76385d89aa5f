import { timingSafeEqual } from "node:crypto";
import type http from "node:http";
import type http2 from "node:http2";
import { type Database, type Kysely, recordAudit } from "@vigil/db";
import type { Logger } from "@vigil/runtime";
import { signInWithIdentity, UserError } from "@vigil/users";
import type { KeyedLimiter } from "./keyed-limiter.ts";
import { roleFromClaims, usernameHintFromClaims } from "./oidc-claims.ts";
import type { OidcClient } from "./oidc-client.ts";
import { CALLBACK_PATH, LOGIN_PATH, type OidcSettings } from "./oidc-config.ts";
import { countSsoSignIn } from "./oidc-metrics.ts";
import { addPendingSignIn, issueSignInCode, takePendingSignIn } from "./oidc-store.ts";
import type { TokenVersions } from "./token-versions.ts";

type Req = http.IncomingMessage | http2.Http2ServerRequest;
type Res = http.ServerResponse | http2.Http2ServerResponse;

/** Longest callback URL taken: providers send a code, a state and an issuer, far below this. */
const MAX_CALLBACK_URL_LENGTH = 4_096;

/**
 * Why a sign-in failed, as the console is told (`/sign-in#sso_error=<reason>`):
 * no detail an attacker could use, enough for a user to know what to do.
 */
export type SsoFailure =
  | "unmapped" // the provider's claims map to no Vigil role
  | "disabled" // the Vigil user is disabled
  | "expired" // the sign-in took too long, was used already, or came from another browser
  | "denied" // the user cancelled or the provider refused
  | "busy" // too many sign-ins at once, from this address or in all
  | "unavailable" // the provider could not be reached
  | "failed"; // anything else: the response did not check out

export interface OidcRoutesDeps {
  db: Kysely<Database>;
  settings: OidcSettings;
  client: OidcClient;
  tokenVersions: TokenVersions;
  /** Sign-ins started and callbacks taken per client address. */
  perAddress: KeyedLimiter;
  clientAddress(req: Req): string;
  log: Logger;
}

/**
 * `GET /auth/oidc/login` and `GET /auth/oidc/callback` on the query port:
 * the browser's two stops in a single sign-on. Returns false for any other
 * path. Nothing secret travels in a URL Vigil makes: the provider's code and
 * state arrive in the callback's query (as the protocol has it), and the
 * console gets only a one-minute, single-use code in the fragment, which
 * browsers send to no server.
 */
export function oidcRoutes(deps: OidcRoutesDeps): (req: Req, res: Res) => boolean {
  const secure = deps.settings.redirectUrl.protocol === "https:";
  // __Host-: only this origin may set it, on every path, and only over https.
  const cookieName = secure ? "__Host-vigil-sso" : "vigil-sso";
  const consoleSignIn = new URL("/sign-in", deps.settings.redirectUrl).href;

  function cookie(value: string, maxAgeS: number): string {
    return `${cookieName}=${value}; Path=/; Max-Age=${maxAgeS}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
  }

  function redirect(res: Res, location: string, setCookie?: string): void {
    send(res, 303, {
      location,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
      ...(setCookie ? { "set-cookie": setCookie } : {}),
    });
  }

  /**
   * Sends the browser to the console with the reason, audited (unless the users package did).
   * The state cookie is cleared only once this browser's sign-in is spent: a forged callback
   * (a link to it with another state) must not end a sign-in the victim has in progress.
   */
  async function fail(
    res: Res,
    address: string,
    reason: SsoFailure,
    options: { detail?: string; spent?: boolean; audited?: boolean } = {},
  ): Promise<void> {
    const detail = options.detail?.slice(0, 200);
    countSsoSignIn(reason);
    deps.log.warn({ address, reason, detail }, "single sign-on refused");
    if (!options.audited) {
      await recordAudit(deps.db, {
        actor: "anonymous",
        action: "user.sso_login_failed",
        details: { address, reason, ...(detail ? { detail } : {}) },
      }).catch((err) => deps.log.error({ err }, "could not audit a failed single sign-on"));
    }
    redirect(res, `${consoleSignIn}#sso_error=${reason}`, options.spent === false ? undefined : cookie("", 0));
  }

  async function login(res: Res, address: string): Promise<void> {
    let start: Awaited<ReturnType<OidcClient["start"]>>;
    try {
      start = await deps.client.start();
    } catch {
      // Nothing of this browser's is spent: a sign-in it has in progress in another tab goes on.
      return fail(res, address, "unavailable", { spent: false });
    }
    const added = await addPendingSignIn(deps.db, start.state, start, {
      ttlMs: deps.settings.signInTtlMs,
      max: deps.settings.maxPendingSignIns,
    });
    if (!added) return fail(res, address, "busy", { detail: "pending sign-ins at their limit", spent: false });
    // The state goes in a cookie too: the callback must come back to the browser that started it,
    // so nobody can sign a victim's browser into the attacker's account (login CSRF).
    redirect(res, start.authorizationUrl.href, cookie(start.state, Math.floor(deps.settings.signInTtlMs / 1000)));
  }

  async function callback(req: Req, res: Res, address: string): Promise<void> {
    const url = new URL(req.url ?? "/", "http://callback");
    const params = url.searchParams;
    const state = params.get("state") ?? "";
    const fromCookie = cookieValue(req.headers.cookie, cookieName);
    if (!state || !fromCookie || !sameText(state, fromCookie)) {
      return fail(res, address, "expired", { detail: "state missing or not this browser's", spent: false });
    }
    const pending = await takePendingSignIn(deps.db, state);
    if (!pending) return fail(res, address, "expired", { detail: "no pending sign-in for this state" });
    const error = params.get("error");
    if (error)
      return fail(res, address, "denied", { detail: `provider: ${error.replace(/[^a-z_]/g, "").slice(0, 64)}` });
    let claims: Record<string, unknown>;
    try {
      claims = await deps.client.finish(params, state, pending);
    } catch (err) {
      return fail(res, address, "failed", { detail: (err as Error).message });
    }
    const issuer = String(claims.iss);
    const subject = String(claims.sub);
    const role = roleFromClaims(claims, deps.settings);
    if (!role) return fail(res, address, "unmapped", { detail: `no role for ${issuer} ${subject.slice(0, 255)}` });
    try {
      const signedIn = await signInWithIdentity(
        deps.db,
        { issuer, subject, usernameHint: usernameHintFromClaims(claims, deps.settings.usernameClaim), role },
        { address },
      );
      if (signedIn.previousRole) await deps.tokenVersions.announce(signedIn.user.id, signedIn.user.tokenVersion);
      const code = await issueSignInCode(deps.db, signedIn.user.id);
      countSsoSignIn("ok");
      redirect(res, `${consoleSignIn}#sso_code=${code}`, cookie("", 0));
    } catch (err) {
      if (err instanceof UserError && err.kind === "unauthenticated") {
        return fail(res, address, "disabled", { audited: true });
      }
      if (err instanceof UserError) return fail(res, address, "failed", { detail: err.message });
      throw err;
    }
  }

  return (req, res) => {
    const path = req.url?.split("?")[0];
    if (path !== LOGIN_PATH && path !== CALLBACK_PATH) return false;
    if (req.method !== "GET") {
      send(res, 405, { allow: "GET" });
      return true;
    }
    const address = deps.clientAddress(req);
    const wait = deps.perAddress.take(address);
    if (wait > 0) {
      send(res, 429, { "retry-after": String(Math.ceil(wait / 1000)) }, "too many sign-ins from this address");
      return true;
    }
    if ((req.url ?? "").length > MAX_CALLBACK_URL_LENGTH) {
      send(res, 414, {});
      return true;
    }
    const work = path === LOGIN_PATH ? login(res, address) : callback(req, res, address);
    work.catch((err) => {
      deps.log.error({ err }, "single sign-on failed");
      if (!res.headersSent) {
        send(res, 500, {}, "single sign-on failed");
      }
    });
    return true;
  };
}

function send(res: Res, status: number, headers: Record<string, string>, body?: string): void {
  res.statusCode = status;
  res.setHeader("cache-control", "no-store");
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body !== undefined) res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(body ?? "");
}

/** A cookie's value from a Cookie header; undefined when absent. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8_192) return undefined;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

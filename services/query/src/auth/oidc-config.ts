import { envInt, envOptionalString } from "@vigil/runtime";
import { isRole, type Role } from "@vigil/users";
import { z } from "zod";

const CLAIM_NAME = /^[A-Za-z0-9_:/.-]{1,128}$/;
const CLAIM_NAME_RULE = "a claim name: 1 to 128 letters, digits, _ : / . -";

/**
 * Single sign-on with an OpenID Connect provider: the environment variables
 * (spread into queryEnv). OIDC_ISSUER_URL unset: single sign-on is off and the
 * rest is ignored.
 */
export const oidcEnv = {
  /** The provider's issuer (its /.well-known/openid-configuration is read from it); unset: no single sign-on. */
  OIDC_ISSUER_URL: envOptionalString(),
  /** The client id Vigil is registered under at the provider. */
  OIDC_CLIENT_ID: envOptionalString(),
  /** The client secret (confidential client); prefer OIDC_CLIENT_SECRET_FILE. Never logged. */
  OIDC_CLIENT_SECRET: envOptionalString(),
  /** A file holding the client secret (a mounted Kubernetes Secret); wins over OIDC_CLIENT_SECRET. */
  OIDC_CLIENT_SECRET_FILE: envOptionalString(),
  /** The callback registered at the provider: https://<console host>/auth/oidc/callback. */
  OIDC_REDIRECT_URL: envOptionalString(),
  /** Space-separated scopes to ask for; must include openid (add the provider's groups scope if it has one). */
  OIDC_SCOPES: z.string().default("openid profile email"),
  /** The ID token claim a new user's Vigil username is made from (preferred_username, email, …). */
  OIDC_USERNAME_CLAIM: z.string().regex(CLAIM_NAME, CLAIM_NAME_RULE).default("preferred_username"),
  /** The ID token claim holding the user's groups or roles (a string or a list); a.b reads a nested claim. */
  OIDC_ROLE_CLAIM: z.string().regex(CLAIM_NAME, CLAIM_NAME_RULE).default("groups"),
  /**
   * Claim values to Vigil roles, tried in order, the first the user has wins:
   * `vigil-admins=admin,ward-7=clinician`, or a JSON object for values with commas.
   */
  OIDC_ROLE_MAP: envOptionalString(),
  /** The role of a user matching no entry of OIDC_ROLE_MAP; unset: such a user is refused. Never admin. */
  OIDC_DEFAULT_ROLE: z.preprocess(
    (v) => (v === "" ? undefined : v),
    z
      .enum(["user", "clinician", "technician"], "user, clinician or technician (admin is given by a mapping only)")
      .optional(),
  ),
  /** The sign-in button's label on the console. */
  OIDC_DISPLAY_NAME: z.string().max(64).default("Single sign-on"),
  /** How long a user has at the provider to sign in (a pending sign-in expires after it). */
  OIDC_SIGNIN_TTL_MS: envInt(600_000, 60_000, 1_800_000),
  /** Sign-ins sent to the provider and not back yet, across replicas; more are refused until some finish or expire. */
  OIDC_MAX_PENDING_SIGNINS: envInt(1_000, 1, 1_000_000),
  /** Requests to /auth/oidc/login and /auth/oidc/callback one client address may make per minute (per replica); a sign-in makes two. */
  OIDC_SIGNINS_PER_ADDRESS_PER_MIN: envInt(60, 1, 100_000),
};

/** What single sign-on runs with, checked (see oidcSettings). */
export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string;
  redirectUrl: URL;
  scopes: string;
  usernameClaim: string;
  roleClaim: string;
  roleMap: ReadonlyArray<{ value: string; role: Role }>;
  defaultRole?: Role;
  displayName: string;
  signInTtlMs: number;
  maxPendingSignIns: number;
  signInsPerAddressPerMin: number;
}

type OidcEnv = z.output<z.ZodObject<typeof oidcEnv>>;

export const CALLBACK_PATH = "/auth/oidc/callback";
export const LOGIN_PATH = "/auth/oidc/login";

/**
 * The checked settings, or undefined when single sign-on is off. Throws with
 * the variable's name on anything wrong: the service then refuses to start,
 * instead of signing people in with half a configuration.
 */
export function oidcSettings(env: OidcEnv, clientSecret: string | undefined): OidcSettings | undefined {
  if (!env.OIDC_ISSUER_URL) return undefined;
  const issuer = httpsUrl("OIDC_ISSUER_URL", env.OIDC_ISSUER_URL);
  if (!env.OIDC_CLIENT_ID) throw new Error("OIDC_CLIENT_ID: required with OIDC_ISSUER_URL");
  if (!clientSecret) throw new Error("OIDC_CLIENT_SECRET_FILE (or OIDC_CLIENT_SECRET): required with OIDC_ISSUER_URL");
  if (!env.OIDC_REDIRECT_URL) throw new Error("OIDC_REDIRECT_URL: required with OIDC_ISSUER_URL");
  const redirectUrl = httpsUrl("OIDC_REDIRECT_URL", env.OIDC_REDIRECT_URL);
  if (redirectUrl.pathname !== CALLBACK_PATH || redirectUrl.search || redirectUrl.hash) {
    throw new Error(`OIDC_REDIRECT_URL: must be <console origin>${CALLBACK_PATH}, with no query or fragment`);
  }
  const scopes = env.OIDC_SCOPES.split(/\s+/).filter(Boolean);
  if (!scopes.includes("openid")) throw new Error("OIDC_SCOPES: must include openid");
  const defaultRole: Role | undefined = env.OIDC_DEFAULT_ROLE;
  const roleMap = parseRoleMap(env.OIDC_ROLE_MAP ?? "");
  if (roleMap.length === 0 && defaultRole === undefined) {
    throw new Error("OIDC_ROLE_MAP: set at least one mapping, or OIDC_DEFAULT_ROLE, or nobody could sign in");
  }
  return {
    issuer,
    clientId: env.OIDC_CLIENT_ID,
    clientSecret,
    redirectUrl,
    scopes: scopes.join(" "),
    usernameClaim: env.OIDC_USERNAME_CLAIM,
    roleClaim: env.OIDC_ROLE_CLAIM,
    roleMap,
    ...(defaultRole !== undefined ? { defaultRole } : {}),
    displayName: env.OIDC_DISPLAY_NAME,
    signInTtlMs: env.OIDC_SIGNIN_TTL_MS,
    maxPendingSignIns: env.OIDC_MAX_PENDING_SIGNINS,
    signInsPerAddressPerMin: env.OIDC_SIGNINS_PER_ADDRESS_PER_MIN,
  };
}

/** `a=admin,b=user` (split at each entry's last '='), or a JSON object `{"a": "admin"}`; order kept. */
export function parseRoleMap(text: string): Array<{ value: string; role: Role }> {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  let entries: Array<[string, unknown]>;
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new Error("OIDC_ROLE_MAP: not valid JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error("OIDC_ROLE_MAP: a JSON object of claim value to role");
    }
    entries = Object.entries(parsed);
  } else {
    entries = trimmed
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean)
      .map((entry) => {
        const at = entry.lastIndexOf("=");
        if (at <= 0) throw new Error(`OIDC_ROLE_MAP: "${entry}" is not value=role`);
        return [entry.slice(0, at).trim(), entry.slice(at + 1).trim()];
      });
  }
  if (entries.length > 1_000) throw new Error("OIDC_ROLE_MAP: at most 1000 entries");
  return entries.map(([value, role]) => {
    if (typeof role !== "string" || !isRole(role)) {
      throw new Error(
        `OIDC_ROLE_MAP: "${value}" maps to ${JSON.stringify(role)}, not admin, user, clinician or technician`,
      );
    }
    if (value.length === 0 || value.length > 1_024) throw new Error("OIDC_ROLE_MAP: values are 1 to 1024 characters");
    return { value, role };
  });
}

/** https, or http on a loopback host only (a provider on the same machine, as in tests). */
function httpsUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${name}: not a URL`);
  }
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return url;
  throw new Error(`${name}: must be https (http only on a loopback address)`);
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

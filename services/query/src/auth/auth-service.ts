import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type AuditBatcher, type Database, type Kysely, recordAudit } from "@vigil/db";
import { type AuthService, Role } from "@vigil/proto";
import {
  bumpTokenVersion,
  checkSignIn,
  createUser,
  findUser,
  issueRefreshToken,
  MAX_PASSWORD_LENGTH,
  normalizeUsername,
  revokeRefreshToken,
  rotateRefreshToken,
  USERNAME_PATTERN,
  UserError,
  type Role as UserRole,
} from "@vigil/users";
import { tooManyRequests } from "./auth-interceptor.ts";
import { changePasswordHandler } from "./change-password.ts";
import type { KeyedLimiter } from "./keyed-limiter.ts";
import { actorOf, clientAddressKey, principalOf, traceIdOf } from "./principal.ts";
import { sessionTokens } from "./session-tokens.ts";
import type { SignInFailures } from "./sign-in-failures.ts";
import type { TokenSigner } from "./token-signer.ts";
import type { TokenVersions } from "./token-versions.ts";
import { userMessage } from "./user-messages.ts";

export interface AuthServiceDeps {
  db: Kysely<Database>;
  signer: TokenSigner;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  /** Ends the user's access tokens everywhere (on sign-out). */
  tokenVersions: TokenVersions;
  /** Registrations per client address, when anyone may register (AUTH_OPEN_REGISTRATION). */
  registrationsPerAddress: KeyedLimiter;
  /** Failed sign-ins per username from one client address… */
  loginFailuresPerUsername: KeyedLimiter;
  /** …and per client address, whatever the username. */
  loginFailuresPerAddress: KeyedLimiter;
  /** ChangePassword's current-password checks per user (change-password.ts). */
  passwordChecksPerUser: KeyedLimiter;
  /** Failed sign-ins, summed per username and window into the audit log. */
  signInFailures: SignInFailures;
  /** Sign-outs are recorded here (the query service's audit batcher). */
  audit: Pick<AuditBatcher, "record">;
}

const BAD_CREDENTIALS = "invalid username or password";
const DISABLED = "this account is disabled: ask an administrator";

/** vigil.auth.v1.AuthService: users sign in with a password and hold rotating refresh tokens. */
export function authService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  return {
    async register(req, ctx) {
      const role = roleOf(req.role);
      const input = { username: req.username, password: req.password, role } as const;
      const audit = { actor: actorOf(ctx), traceId: traceIdOf(ctx) };
      if (principalOf(ctx)) return { user: userMessage(await createUser(deps.db, input, audit)) };
      // Open registration, anonymous caller: throttled per address, and answered the same
      // whether or not the name was free, so it cannot be used to find who has an account.
      const wait = deps.registrationsPerAddress.take(ctx.values.get(clientAddressKey));
      if (wait > 0) throw tooManyRequests(wait, "too many registrations from this address");
      try {
        await createUser(deps.db, input, audit);
      } catch (err) {
        if (!(err instanceof UserError && err.kind === "exists")) throw err;
      }
      return {
        user: userMessage({
          id: 0,
          username: normalizeUsername(req.username),
          role: "user",
          createdAt: new Date(),
          tokenVersion: 0,
        }),
      };
    },

    async login(req, ctx) {
      const username = normalizeUsername(req.username);
      const address = ctx.values.get(clientAddressKey);
      // A name no account can have, or a password no account can have, is refused before it
      // becomes a limiter key or reaches the database (counted against the address only).
      const possible =
        USERNAME_PATTERN.test(username) && req.password.length > 0 && req.password.length <= MAX_PASSWORD_LENGTH;
      // Failures count per (username, address): a stranger guessing alice's password spends
      // their own bucket, never alice's. An attempt takes a token up front (so parallel guesses
      // cannot all pass the check) and gets it back when it succeeds.
      const userKey = possible ? `${username} ${address}` : undefined;
      const wait = Math.max(
        deps.loginFailuresPerAddress.take(address),
        userKey === undefined ? 0 : deps.loginFailuresPerUsername.take(userKey),
      );
      if (wait > 0) throw tooManyRequests(wait, "too many failed sign-ins");
      const check = possible ? await checkSignIn(deps.db, username, req.password) : undefined;
      const disabled = check !== undefined && !check.ok && check.reason === "disabled";
      if (check?.ok || disabled) {
        // The right password: not a guess, whatever the account's state.
        deps.loginFailuresPerAddress.refund(address);
        if (userKey !== undefined) deps.loginFailuresPerUsername.refund(userKey);
      }
      // Told only to whoever knows the password, so the person locked out knows to ask an admin.
      if (disabled) throw new ConnectError(DISABLED, Code.PermissionDenied);
      if (!check?.ok) {
        deps.signInFailures.record(possible ? username : undefined, address);
        throw new ConnectError(BAD_CREDENTIALS, Code.Unauthenticated);
      }
      const user = check.user;
      const refresh = await issueRefreshToken(deps.db, user.id, deps.refreshTokenTtlMs);
      await recordAudit(deps.db, {
        actor: `user:${user.username}`,
        action: "user.login",
        target: `user:${user.username}`,
        details: { address },
        traceId: traceIdOf(ctx),
      });
      return { tokens: await sessionTokens(deps, user, refresh) };
    },

    async refresh(req, ctx) {
      const outcome = await rotateRefreshToken(deps.db, req.refreshToken, deps.refreshTokenTtlMs);
      if (!outcome.ok) {
        if (outcome.reason === "reused") await auditReuse(deps.db, ctx);
        throw new ConnectError(refusal(outcome.reason), Code.Unauthenticated);
      }
      const user = await findUser(deps.db, outcome.userId);
      if (!user) throw new ConnectError("the account is disabled", Code.Unauthenticated);
      return { tokens: await sessionTokens(deps, user, outcome.next) };
    },

    async logout(req, ctx) {
      // Signing out ends the sign-in's refresh tokens and every access token the user holds
      // (other sessions then refresh, with their own refresh tokens, to go on).
      const userId = await revokeRefreshToken(deps.db, req.refreshToken);
      const version = userId === undefined ? undefined : await bumpTokenVersion(deps.db, userId);
      if (userId !== undefined && version !== undefined) await deps.tokenVersions.announce(userId, version);
      // Recorded only for a token that was valid: a stranger's made-up tokens write nothing.
      if (userId !== undefined) await auditLogout(deps, userId, ctx);
      return {};
    },

    changePassword: changePasswordHandler(deps),
  };
}

function refusal(reason: "unknown" | "expired" | "revoked" | "reused"): string {
  switch (reason) {
    case "reused":
      return "refresh token was already used: every token of this sign-in is now revoked, sign in again";
    case "expired":
      return "refresh token expired: sign in again";
    default:
      return "refresh token is not valid: sign in again";
  }
}

async function auditLogout(deps: AuthServiceDeps, userId: number, ctx: HandlerContext): Promise<void> {
  const user = await deps.db.selectFrom("users").select("username").where("id", "=", userId).executeTakeFirst();
  const name = user ? `user:${user.username}` : `user-id:${userId}`;
  await deps.audit.record({
    actor: name,
    action: "user.logout",
    target: name,
    details: { address: ctx.values.get(clientAddressKey) },
    traceId: traceIdOf(ctx),
  });
}

async function auditReuse(db: Kysely<Database>, ctx: HandlerContext): Promise<void> {
  await recordAudit(db, {
    actor: "anonymous",
    action: "refresh_token.reuse",
    details: { address: ctx.values.get(clientAddressKey) },
    traceId: traceIdOf(ctx),
  });
}

const ROLE_VALUES: Record<UserRole, Role> = {
  admin: Role.ADMIN,
  user: Role.USER,
  clinician: Role.CLINICIAN,
  technician: Role.TECHNICIAN,
};

/** The role a Register request asks for; a plain user when unspecified. */
function roleOf(value: Role): UserRole {
  if (value === Role.UNSPECIFIED) return "user";
  const role = (Object.keys(ROLE_VALUES) as UserRole[]).find((r) => ROLE_VALUES[r] === value);
  if (!role) throw new ConnectError("role: not a known role", Code.InvalidArgument);
  return role;
}

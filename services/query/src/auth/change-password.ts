import type { HandlerContext } from "@connectrpc/connect";
import { recordAudit } from "@vigil/db";
import type { ChangePasswordRequest, ChangePasswordResponse } from "@vigil/proto";
import { changePassword, UserError, WRONG_CURRENT_PASSWORD } from "@vigil/users";
import { tooManyRequests } from "./auth-interceptor.ts";
import type { KeyedLimiter } from "./keyed-limiter.ts";
import { actorOf, clientAddressKey, principalOf, traceIdOf } from "./principal.ts";
import { type SessionTokenDeps, startSession } from "./session-tokens.ts";
import type { TokenVersions } from "./token-versions.ts";

export interface ChangePasswordDeps extends SessionTokenDeps {
  tokenVersions: TokenVersions;
  /**
   * Current-password checks per user, limited like failed sign-ins: a stolen
   * access token must not become a way to guess the password behind it.
   */
  passwordChecksPerUser: KeyedLimiter;
}

/**
 * AuthService/ChangePassword: the signed-in user changes their own password.
 * Every other session and token of theirs ends; this one gets a new sign-in.
 */
export function changePasswordHandler(deps: ChangePasswordDeps) {
  return async (req: ChangePasswordRequest, ctx: HandlerContext): Promise<ChangePasswordResponse> => {
    const principal = principalOf(ctx);
    if (!principal) throw new UserError("unauthenticated", "sign in to change your password");
    const key = `user:${principal.userId}`;
    // A token is taken up front (parallel guesses cannot all pass) and given back on success.
    const wait = deps.passwordChecksPerUser.take(key);
    if (wait > 0) throw tooManyRequests(wait, "too many wrong current passwords");
    const change = await changePassword(
      deps.db,
      principal.userId,
      { currentPassword: req.currentPassword, newPassword: req.newPassword },
      { actor: actorOf(ctx), traceId: traceIdOf(ctx) },
    ).catch(async (err: unknown) => {
      // Only a wrong current password counts against the user (a too-short new one does not), and
      // is audited: guesses through a stolen token show up for the security officer.
      if (!(err instanceof UserError && err.message === WRONG_CURRENT_PASSWORD)) {
        deps.passwordChecksPerUser.refund(key);
        throw err;
      }
      await recordAudit(deps.db, {
        actor: actorOf(ctx),
        action: "user.password_change_refused",
        target: `user:${principal.username}`,
        details: { address: ctx.values.get(clientAddressKey) },
        traceId: traceIdOf(ctx),
      });
      throw err;
    });
    deps.passwordChecksPerUser.refund(key);
    await deps.tokenVersions.announce(change.user.id, change.tokenVersion);
    return { $typeName: "vigil.auth.v1.ChangePasswordResponse", tokens: await startSession(deps, change.user) };
  };
}

import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Database, type Kysely, recordAudit } from "@vigil/db";
import type { SsoService } from "@vigil/proto";
import { findUser } from "@vigil/users";
import { tooManyRequests } from "./auth-interceptor.ts";
import type { KeyedLimiter } from "./keyed-limiter.ts";
import { LOGIN_PATH, type OidcSettings } from "./oidc-config.ts";
import { redeemSignInCode } from "./oidc-store.ts";
import { clientAddressKey, traceIdOf } from "./principal.ts";
import { startSession } from "./session-tokens.ts";
import type { TokenSigner } from "./token-signer.ts";

export interface SsoServiceDeps {
  db: Kysely<Database>;
  /** Undefined: single sign-on is off (GetSsoConfig says so, ExchangeSsoCode is refused). */
  settings: OidcSettings | undefined;
  signer: TokenSigner;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  /** Code exchanges per client address. */
  exchangesPerAddress: KeyedLimiter;
}

const BAD_CODE = "sign-in code is not valid or was used already: sign in again";

/** vigil.auth.v1.SsoService: whether single sign-on is on, and the console's code exchange. */
export function ssoService(deps: SsoServiceDeps): ServiceImpl<typeof SsoService> {
  return {
    async getSsoConfig() {
      if (!deps.settings) return { enabled: false, displayName: "", loginPath: "" };
      return { enabled: true, displayName: deps.settings.displayName, loginPath: LOGIN_PATH };
    },

    async exchangeSsoCode(req, ctx) {
      if (!deps.settings) throw new ConnectError("single sign-on is not configured", Code.FailedPrecondition);
      const address = ctx.values.get(clientAddressKey);
      const wait = deps.exchangesPerAddress.take(address);
      if (wait > 0) throw tooManyRequests(wait, "too many sign-in code exchanges");
      const userId = await redeemSignInCode(deps.db, req.code);
      // A disabled user (between the callback and now) is refused here as at every refresh.
      const user = userId === undefined ? undefined : await findUser(deps.db, userId);
      if (!user) {
        await recordAudit(deps.db, {
          actor: "anonymous",
          action: "user.sso_code_refused",
          details: { address },
          traceId: traceIdOf(ctx),
        });
        throw new ConnectError(BAD_CODE, Code.Unauthenticated);
      }
      return { tokens: await startSession(deps, user) };
    },
  };
}

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Database, Kysely } from "@vigil/db";
import { type Tokens, TokensSchema } from "@vigil/proto";
import { issueRefreshToken, scopesFor, type User } from "@vigil/users";
import { toUser } from "./auth-service.ts";
import type { TokenSigner } from "./token-signer.ts";

/**
 * A new sign-in's tokens for `user` (a new refresh-token family and an access
 * token at the user's current token version), as Login returns them. Used by
 * single sign-on's code exchange.
 */
export async function signInTokens(
  deps: { db: Kysely<Database>; signer: TokenSigner; accessTokenTtlMs: number; refreshTokenTtlMs: number },
  user: User,
): Promise<Tokens> {
  const refresh = await issueRefreshToken(deps.db, user.id, deps.refreshTokenTtlMs);
  const scopes = [...scopesFor(user.role)];
  const access = await deps.signer.sign(
    { userId: user.id, username: user.username, role: user.role, scopes, tokenVersion: user.tokenVersion },
    deps.accessTokenTtlMs,
  );
  return create(TokensSchema, {
    accessToken: access.token,
    accessTokenExpireTime: timestampFromMs(access.expiresAt.getTime()),
    refreshToken: refresh.token,
    refreshTokenExpireTime: timestampFromMs(refresh.expiresAt.getTime()),
    user: toUser(user),
    scopes,
  });
}

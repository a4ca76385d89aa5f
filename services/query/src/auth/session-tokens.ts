import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Database, Kysely } from "@vigil/db";
import { type Tokens, TokensSchema } from "@vigil/proto";
import { issueRefreshToken, scopesFor, type User } from "@vigil/users";
import type { TokenSigner } from "./token-signer.ts";
import { userMessage } from "./user-messages.ts";

export interface SessionTokenDeps {
  db: Kysely<Database>;
  signer: TokenSigner;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
}

/** A new sign-in for `user`: a refresh-token family of its own and an access token at the user's current version. */
export async function startSession(deps: SessionTokenDeps, user: User): Promise<Tokens> {
  return sessionTokens(deps, user, await issueRefreshToken(deps.db, user.id, deps.refreshTokenTtlMs));
}

/** The tokens a sign-in or a refresh answers with: `refresh` and a new access token at the user's current version. */
export async function sessionTokens(
  deps: Pick<SessionTokenDeps, "signer" | "accessTokenTtlMs">,
  user: User,
  refresh: { token: string; expiresAt: Date },
): Promise<Tokens> {
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
    user: userMessage(user),
    scopes,
  });
}

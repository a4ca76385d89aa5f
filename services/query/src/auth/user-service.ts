import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Database, Kysely } from "@vigil/db";
import { Role, type UserService } from "@vigil/proto";
import {
  type ChangeActor,
  deleteUser,
  disableUser,
  enableUser,
  listUsers,
  resetPassword,
  setUserRole,
  type TokenChange,
} from "@vigil/users";
import { InvalidArgumentError } from "../errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor } from "../paging.ts";
import { actorOf, principalOf, traceIdOf } from "./principal.ts";
import type { TokenVersions } from "./token-versions.ts";
import { roleFromMessage, userMessage } from "./user-messages.ts";

export interface UserServiceDeps {
  db: Kysely<Database>;
  /** Ends the user's access tokens on every replica once a change committed. */
  tokenVersions: TokenVersions;
}

/** Longest username there can be (USERNAME_PATTERN); longer requests are refused before the database. */
const MAX_USERNAME_LENGTH = 64;

/** vigil.auth.v1.UserService: people's accounts, for admins (users:admin); every change audited. */
export function userService(deps: UserServiceDeps): ServiceImpl<typeof UserService> {
  const by = (ctx: HandlerContext): ChangeActor => ({
    actor: actorOf(ctx),
    userId: principalOf(ctx)?.userId,
    traceId: traceIdOf(ctx),
  });
  /** Announces the raised version, so the change applies to live tokens on every replica now. */
  const applied = async (change: TokenChange) => {
    await deps.tokenVersions.announce(change.user.id, change.tokenVersion);
    return { user: userMessage(change.user) };
  };

  return {
    async listUsers(req) {
      const limit = checkedPageSize(req.pageSize);
      const after = req.pageToken ? decodeCursor(req.pageToken, req, isUserCursor).username : undefined;
      const users = await listUsers(deps.db, {
        role: req.role === Role.UNSPECIFIED ? undefined : roleFromMessage(req.role, "role"),
        disabled: req.disabled,
        limit: limit + 1,
        after,
      });
      const page = users.slice(0, limit);
      const last = page.at(-1);
      return {
        users: page.map(userMessage),
        nextPageToken: users.length > limit && last ? encodeCursor({ username: last.username }, req) : "",
      };
    },
    async disableUser(req, ctx) {
      return applied(await disableUser(deps.db, username(req.username), by(ctx)));
    },
    async enableUser(req, ctx) {
      return applied(await enableUser(deps.db, username(req.username), by(ctx)));
    },
    async deleteUser(req, ctx) {
      await applied(await deleteUser(deps.db, username(req.username), by(ctx)));
      return {};
    },
    async setUserRole(req, ctx) {
      const role = roleFromMessage(req.role, "role");
      return applied(await setUserRole(deps.db, username(req.username), role, by(ctx)));
    },
    async resetPassword(req, ctx) {
      const change = await resetPassword(deps.db, username(req.username), req.password || undefined, by(ctx));
      return { ...(await applied(change)), generatedPassword: change.generatedPassword ?? "" };
    },
  };
}

function username(value: string): string {
  if (value.trim().length === 0) throw new InvalidArgumentError("username", "is required");
  if (value.length > MAX_USERNAME_LENGTH) throw new InvalidArgumentError("username", "is longer than any username");
  return value;
}

function isUserCursor(c: unknown): c is { username: string } {
  const name = (c as { username?: unknown } | null)?.username;
  return typeof name === "string" && name.length <= MAX_USERNAME_LENGTH;
}

import { randomBytes } from "node:crypto";
import { type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import { hashPassword, verifyPassword } from "./password.ts";
import type { Role } from "./roles.ts";
import { bumpTokenVersion } from "./token-versions.ts";
import { UserError } from "./user-errors.ts";
import {
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  normalizeUsername,
  toUser,
  type User,
  type UserRow,
} from "./user-store.ts";

/**
 * What admins do to people's accounts (UserService) and what a user does to
 * their own password. Every change runs in one transaction with its audit
 * entry. Changes that must end the user's access tokens raise the user's
 * token version there and return it: the caller announces it to every
 * replica (TokenVersions.announce) once the transaction has committed.
 *
 * Deleting keeps a tombstone (deleted_at, migration 0016): the username
 * stays taken, so "user:alice" in the audit log never names two people.
 */

/** A user as an admin sees it: enabled or when disabled. */
export interface UserRecord extends User {
  disabledAt: Date | null;
}

/** Who makes a change, for the guards and the audit log. */
export interface ChangeActor {
  /** As the audit log names the caller: "user:<name>". */
  actor: string;
  /** The caller's user id, when a signed-in user (guards against locking oneself out). */
  userId?: number;
  traceId?: string;
}

/** A change that ended the user's tokens: announce `tokenVersion` once it committed. */
export interface TokenChange {
  user: UserRecord;
  tokenVersion: number;
}

export interface ListUsersOptions {
  role?: Role;
  disabled?: boolean;
  limit: number;
  /** Usernames after this one (keyset paging). */
  after?: string;
}

/** What a wrong current password gets from changePassword (and nothing else does). */
export const WRONG_CURRENT_PASSWORD = "current_password is not correct";

/** Length of a generated password: 18 random bytes, 24 base64url characters (144 bits). */
const GENERATED_PASSWORD_BYTES = 18;

const columns = ["id", "username", "role", "created_at", "token_version", "disabled_at"] as const;

/** Users that are not deleted, by username. */
export async function listUsers(db: Kysely<Database>, options: ListUsersOptions): Promise<UserRecord[]> {
  let query = db.selectFrom("users").select(columns).where("deleted_at", "is", null);
  if (options.role) query = query.where("role", "=", options.role);
  if (options.disabled === true) query = query.where("disabled_at", "is not", null);
  if (options.disabled === false) query = query.where("disabled_at", "is", null);
  if (options.after !== undefined) query = query.where("username", ">", options.after);
  const rows = await query.orderBy("username").limit(options.limit).execute();
  return rows.map(toRecord);
}

/** Refuses the user's sign-ins and ends every session and token they hold. A disabled user stays as is. */
export async function disableUser(db: Kysely<Database>, username: string, by: ChangeActor): Promise<TokenChange> {
  return db.transaction().execute(async (tx) => {
    const admins = await lockEnabledAdmins(tx);
    const target = await lockUser(tx, username);
    if (target.id === by.userId) {
      throw new UserError("failed_precondition", "you cannot disable your own account: ask another admin");
    }
    requireAnotherAdmin(admins, target, "disabled");
    if (target.disabledAt !== null) return unchanged(target);
    await tx.updateTable("users").set({ disabled_at: sql<Date>`now()` }).where("id", "=", target.id).execute();
    await revokeRefreshTokens(tx, target.id);
    const tokenVersion = await bumped(tx, target.id);
    await audit(tx, by, "user.disable", target);
    return { user: await readUser(tx, target.id), tokenVersion };
  });
}

/**
 * Lets a disabled user sign in again. Sessions ended by the disable stay
 * ended. The version is raised too, so every replica that cached the user
 * as disabled learns at once that they are not.
 */
export async function enableUser(db: Kysely<Database>, username: string, by: ChangeActor): Promise<TokenChange> {
  return db.transaction().execute(async (tx) => {
    const target = await lockUser(tx, username);
    // Enabling an enabled user must not end their sessions.
    if (target.disabledAt === null) return unchanged(target);
    await tx.updateTable("users").set({ disabled_at: null }).where("id", "=", target.id).execute();
    const tokenVersion = await bumped(tx, target.id);
    await audit(tx, by, "user.enable", target);
    return { user: await readUser(tx, target.id), tokenVersion };
  });
}

/**
 * Deletes the account: the row stays as a tombstone holding the username
 * (never reused) and nothing to sign in with. The audit log is untouched.
 */
export async function deleteUser(db: Kysely<Database>, username: string, by: ChangeActor): Promise<TokenChange> {
  // A hash of a password nobody knows: a sign-in with the deleted name costs a full hash, as an unknown name does.
  const unusableHash = await hashPassword(randomBytes(32).toString("base64url"));
  return db.transaction().execute(async (tx) => {
    const admins = await lockEnabledAdmins(tx);
    const target = await lockUser(tx, username);
    if (target.id === by.userId) {
      throw new UserError("failed_precondition", "you cannot delete your own account: ask another admin");
    }
    requireAnotherAdmin(admins, target, "deleted");
    await tx
      .updateTable("users")
      .set({
        deleted_at: sql<Date>`now()`,
        disabled_at: sql<Date>`coalesce(disabled_at, now())`,
        password_hash: unusableHash,
      })
      .where("id", "=", target.id)
      .execute();
    await tx.deleteFrom("refresh_tokens").where("user_id", "=", target.id).execute();
    const tokenVersion = await bumped(tx, target.id);
    await audit(tx, by, "user.delete", target);
    return { user: await readUser(tx, target.id), tokenVersion };
  });
}

/** Changes what the user may do; their access tokens end at once (a refresh carries the new scopes). */
export async function setUserRole(
  db: Kysely<Database>,
  username: string,
  role: Role,
  by: ChangeActor,
): Promise<TokenChange> {
  return db.transaction().execute(async (tx) => {
    const admins = await lockEnabledAdmins(tx);
    const target = await lockUser(tx, username);
    if (role !== "admin") requireAnotherAdmin(admins, target, "demoted");
    if (target.role === role) return unchanged(target);
    await tx.updateTable("users").set({ role }).where("id", "=", target.id).execute();
    const tokenVersion = await bumped(tx, target.id);
    await audit(tx, by, "user.set_role", target, { from: target.role, to: role });
    return { user: await readUser(tx, target.id), tokenVersion };
  });
}

/**
 * An admin sets a new password for a user who lost theirs, or has one
 * generated (returned once, never stored in the clear). Every session of
 * the user ends. An admin changes their own with changePassword, which asks
 * for the current one.
 */
export async function resetPassword(
  db: Kysely<Database>,
  username: string,
  password: string | undefined,
  by: ChangeActor,
): Promise<TokenChange & { generatedPassword?: string }> {
  const generatedPassword = password ? undefined : randomBytes(GENERATED_PASSWORD_BYTES).toString("base64url");
  const newPassword = password || (generatedPassword as string);
  checkPassword(newPassword, "password");
  const passwordHash = await hashPassword(newPassword);
  const change = await db.transaction().execute(async (tx) => {
    const target = await lockUser(tx, username);
    if (target.id === by.userId) {
      throw new UserError("failed_precondition", "change your own password with ChangePassword (vigil password)");
    }
    await tx.updateTable("users").set({ password_hash: passwordHash }).where("id", "=", target.id).execute();
    await revokeRefreshTokens(tx, target.id);
    const tokenVersion = await bumped(tx, target.id);
    await audit(tx, by, "user.password_reset", target, { generated: generatedPassword !== undefined });
    return { user: await readUser(tx, target.id), tokenVersion };
  });
  return generatedPassword === undefined ? change : { ...change, generatedPassword };
}

/**
 * The user changes their own password: the current one must match. Every
 * session and token of the user ends; the caller starts a new sign-in for
 * the session that asked. A wrong current password is `invalid` (not
 * `unauthenticated`: the caller's token is fine, and clients retry those).
 */
export async function changePassword(
  db: Kysely<Database>,
  userId: number,
  input: { currentPassword: string; newPassword: string },
  by: Omit<ChangeActor, "userId">,
): Promise<TokenChange> {
  checkPassword(input.newPassword, "new_password");
  if (input.currentPassword.length === 0 || input.currentPassword.length > MAX_PASSWORD_LENGTH) {
    throw new UserError("invalid", WRONG_CURRENT_PASSWORD);
  }
  const row = await db
    .selectFrom("users")
    .select("password_hash")
    .where("id", "=", userId)
    .where("disabled_at", "is", null)
    .executeTakeFirst();
  if (!row) throw new UserError("unauthenticated", "the account is disabled");
  if (!(await verifyPassword(input.currentPassword, row.password_hash))) {
    throw new UserError("invalid", WRONG_CURRENT_PASSWORD);
  }
  if (input.newPassword === input.currentPassword) {
    throw new UserError("invalid", "new_password must differ from the current password");
  }
  const passwordHash = await hashPassword(input.newPassword);
  return db.transaction().execute(async (tx) => {
    // Only the hash checked above is replaced: two changes racing with the same current password
    // cannot both succeed.
    const changed = await tx
      .updateTable("users")
      .set({ password_hash: passwordHash })
      .where("id", "=", userId)
      .where("password_hash", "=", row.password_hash)
      .where("disabled_at", "is", null)
      .returning("username")
      .executeTakeFirst();
    if (!changed) throw new UserError("invalid", WRONG_CURRENT_PASSWORD);
    await revokeRefreshTokens(tx, userId);
    const tokenVersion = await bumped(tx, userId);
    const user = await readUser(tx, userId);
    await audit(tx, { ...by, userId }, "user.password_change", user);
    return { user, tokenVersion };
  });
}

function checkPassword(password: string, field: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new UserError("invalid", `${field} must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/** What a change that had nothing to do returns: no new version, no audit entry. */
function unchanged(user: UserRecord): TokenChange {
  return { user, tokenVersion: user.tokenVersion };
}

/** The user by name, locked for this transaction; not_found for unknown and deleted users. */
async function lockUser(tx: Kysely<Database>, username: string): Promise<UserRecord> {
  const row = await tx
    .selectFrom("users")
    .select(columns)
    .where("username", "=", normalizeUsername(username))
    .where("deleted_at", "is", null)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new UserError("not_found", `no user ${normalizeUsername(username)}`);
  return toRecord(row);
}

/**
 * The enabled admins, locked for this transaction, in id order. Every change
 * that can take an admin away locks them first and in the same order, so
 * two admins removing each other at the same moment are serialised (not
 * deadlocked) and the second sees the first's change.
 */
async function lockEnabledAdmins(tx: Kysely<Database>): Promise<number[]> {
  const rows = await tx
    .selectFrom("users")
    .select("id")
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .orderBy("id")
    .forUpdate()
    .execute();
  return rows.map((r) => r.id);
}

/** Refuses to take away the last enabled admin (`admins` from lockEnabledAdmins). */
function requireAnotherAdmin(admins: number[], target: UserRecord, what: string): void {
  if (!admins.includes(target.id)) return;
  if (!admins.some((id) => id !== target.id)) {
    throw new UserError(
      "failed_precondition",
      `${target.username} is the last enabled admin and cannot be ${what}: make another admin first`,
    );
  }
}

async function revokeRefreshTokens(tx: Kysely<Database>, userId: number): Promise<void> {
  await tx
    .updateTable("refresh_tokens")
    .set({ revoked_at: sql<Date>`now()` })
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .execute();
}

async function bumped(tx: Kysely<Database>, userId: number): Promise<number> {
  const version = await bumpTokenVersion(tx, userId);
  if (version === undefined) throw new UserError("not_found", "the user no longer exists");
  return version;
}

async function readUser(tx: Kysely<Database>, id: number): Promise<UserRecord> {
  return toRecord(await tx.selectFrom("users").select(columns).where("id", "=", id).executeTakeFirstOrThrow());
}

async function audit(
  tx: Kysely<Database>,
  by: ChangeActor,
  action: string,
  target: UserRecord,
  details: Record<string, unknown> = {},
): Promise<void> {
  await recordAudit(tx, {
    actor: by.actor,
    action,
    target: `user:${target.username}`,
    details,
    traceId: by.traceId,
  });
}

function toRecord(row: UserRow & { disabled_at: Date | null }): UserRecord {
  return { ...toUser(row), disabledAt: row.disabled_at };
}

import { type Database, type Kysely, recordAudit } from "@vigil/db";
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from "./password.ts";
import type { Role } from "./roles.ts";
import { UserError } from "./user-errors.ts";

export interface User {
  id: number;
  username: string;
  role: Role;
  createdAt: Date;
  /** Access tokens carry it; raising it (bumpTokenVersion) ends them all. */
  tokenVersion: number;
}

export const USERNAME_PATTERN = /^[a-z0-9._@-]{3,64}$/;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

/** Usernames are case-insensitive: stored lower-case. */
export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

/** Creates a user with an argon2id password hash; audited. */
export async function createUser(
  db: Kysely<Database>,
  input: { username: string; password: string; role: Role },
  audit: { actor: string; traceId?: string },
): Promise<User> {
  const username = normalizeUsername(input.username);
  if (!USERNAME_PATTERN.test(username)) {
    throw new UserError("invalid", "username must be 3 to 64 characters: letters, digits, '.', '_', '-', '@'");
  }
  if (input.password.length < MIN_PASSWORD_LENGTH || input.password.length > MAX_PASSWORD_LENGTH) {
    throw new UserError("invalid", `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const passwordHash = await hashPassword(input.password);
  return db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto("users")
      .values({ username, password_hash: passwordHash, role: input.role })
      .onConflict((oc) => oc.column("username").doNothing())
      .returning(["id", "username", "role", "created_at", "token_version"])
      .executeTakeFirst();
    if (!row) throw new UserError("exists", `user ${username} already exists`);
    await recordAudit(tx, {
      actor: audit.actor,
      action: "user.create",
      target: `user:${username}`,
      details: { role: input.role },
      traceId: audit.traceId,
    });
    return toUser(row);
  });
}

/** What a sign-in attempt comes to. */
export type SignInCheck = { ok: true; user: User } | { ok: false; reason: "credentials" | "disabled" };

/**
 * Checks a username and password. Unknown users cost a full hash too, so
 * timing does not reveal which usernames exist. "disabled" is told only
 * after the password matched: whoever does not know it learns nothing about
 * the account (a deleted user's hash is of a random secret, so it is never
 * "disabled", always "credentials").
 */
export async function checkSignIn(db: Kysely<Database>, username: string, password: string): Promise<SignInCheck> {
  const row = await db
    .selectFrom("users")
    .select(["id", "username", "role", "created_at", "token_version", "password_hash", "disabled_at"])
    .where("username", "=", normalizeUsername(username))
    .executeTakeFirst();
  if (!row) {
    await verifyPassword(password, await DUMMY_HASH_PROMISE);
    return { ok: false, reason: "credentials" };
  }
  if (!(await verifyPassword(password, row.password_hash))) return { ok: false, reason: "credentials" };
  if (row.disabled_at) return { ok: false, reason: "disabled" };
  return { ok: true, user: toUser(row) };
}

/** The enabled user a username and password identify, or undefined (checkSignIn without the reason). */
export async function checkCredentials(
  db: Kysely<Database>,
  username: string,
  password: string,
): Promise<User | undefined> {
  const check = await checkSignIn(db, username, password);
  return check.ok ? check.user : undefined;
}

/** An enabled user by id, or undefined. */
export async function findUser(db: Kysely<Database>, id: number): Promise<User | undefined> {
  const row = await db
    .selectFrom("users")
    .select(["id", "username", "role", "created_at", "token_version"])
    .where("id", "=", id)
    .where("disabled_at", "is", null)
    .executeTakeFirst();
  return row && toUser(row);
}

/** True when at least one enabled admin exists. */
export async function hasAdmin(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom("users")
    .select("id")
    .where("role", "=", "admin")
    .where("disabled_at", "is", null)
    .executeTakeFirst();
  return row !== undefined;
}

/** The columns of a users row that make a User. */
export interface UserRow {
  id: number;
  username: string;
  role: string;
  created_at: Date;
  token_version: number;
}

/** A users row as a User. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    role: row.role as Role,
    createdAt: row.created_at,
    tokenVersion: row.token_version,
  };
}

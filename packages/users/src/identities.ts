import { createHash, randomBytes } from "node:crypto";
import { type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import { hashPassword } from "./password.ts";
import type { Role } from "./roles.ts";
import { bumpTokenVersion } from "./token-versions.ts";
import { UserError } from "./user-errors.ts";
import { normalizeUsername, toUser, USERNAME_PATTERN, type User, type UserRow } from "./user-store.ts";

/** An account at an OpenID Connect provider, as its validated ID token names it. */
export interface ExternalIdentity {
  /** The ID token's `iss`. */
  issuer: string;
  /** The ID token's `sub`: with the issuer, the only stable, unique key of the account. */
  subject: string;
  /** What the new Vigil user's name is made from (a claim such as preferred_username); may be anything. */
  usernameHint: string;
  /** The role the provider's claims map to (decided again at every sign-in). */
  role: Role;
}

export interface IdentitySignIn {
  user: User;
  /** The Vigil user was created by this sign-in. */
  created: boolean;
  /** The role before this sign-in, when the claims changed it (older access tokens were ended). */
  previousRole?: Role;
}

const MAX_ISSUER_LENGTH = 2048;
const MAX_SUBJECT_LENGTH = 255;

/**
 * Signs in the Vigil user an identity provider's account is linked to, by
 * (issuer, subject), creating and linking one on its first sign-in. The one
 * way in by single sign-on: any rule about who may sign in (a disabled user
 * is refused) belongs here.
 *
 * - The role is the claims' role, every time: a changed role is written and
 *   the user's older access tokens are ended (token version raised).
 * - A new user's name comes from `usernameHint`, made safe (see
 *   `usernameFromHint`). An existing account of that name, local or linked to
 *   another identity, is never taken over: the new user gets the name with a
 *   suffix derived from (issuer, subject) instead, and the collision is audited.
 * - A new user gets a random password nobody knows (its argon2id hash, so a
 *   password sign-in to it costs and answers like any other).
 *
 * Audited: `user.sso_login`, and `user.create` (with the issuer) for new users.
 * Throws UserError("unauthenticated") for a disabled user.
 */
export async function signInWithIdentity(
  db: Kysely<Database>,
  identity: ExternalIdentity,
  audit: { address?: string; traceId?: string },
): Promise<IdentitySignIn> {
  if (identity.issuer.length === 0 || identity.issuer.length > MAX_ISSUER_LENGTH) {
    throw new UserError("invalid", "issuer: 1 to 2048 characters");
  }
  if (identity.subject.length === 0 || identity.subject.length > MAX_SUBJECT_LENGTH) {
    throw new UserError("invalid", "subject: 1 to 255 characters");
  }
  // Hashed outside the transaction (about 100 ms); only used when the user is new.
  const linked = await findLinkedUser(db, identity);
  const passwordHash = linked ? undefined : await hashPassword(randomBytes(32).toString("base64url"));
  const attempt = () =>
    db.transaction().execute(async (tx) => {
      const existing = await findLinkedUser(tx, identity, true);
      if (existing?.disabled_at) return { refused: existing.username };
      if (existing) return signInLinked(tx, existing, identity, audit);
      return createLinked(
        tx,
        identity,
        passwordHash ?? (await hashPassword(randomBytes(32).toString("base64url"))),
        audit,
      );
    });
  // First sign-ins of one identity at once (two tabs): the later ones' link insert violates
  // UNIQUE (issuer, subject), or the suffixed name is held by another of them; their transactions
  // roll back and, tried again, find the link.
  const outcome = await attempt().catch((err: unknown) => {
    if ((err as { code?: string }).code === "23505" || (err instanceof UserError && err.kind === "exists")) {
      return attempt();
    }
    throw err;
  });
  if ("refused" in outcome) {
    // Outside the transaction, which made no change: the refusal is kept.
    await recordAudit(db, {
      actor: `sso:${identity.issuer}`,
      action: "user.sso_login_refused",
      target: `user:${outcome.refused}`,
      details: { reason: "disabled", address: audit.address },
      traceId: audit.traceId,
    });
    throw new UserError("unauthenticated", "the account is disabled");
  }
  return outcome;
}

type LinkedUserRow = UserRow & { disabled_at: Date | null };

async function findLinkedUser(
  db: Kysely<Database>,
  identity: ExternalIdentity,
  lock = false,
): Promise<LinkedUserRow | undefined> {
  let query = db
    .selectFrom("user_identities as i")
    .innerJoin("users as u", "u.id", "i.user_id")
    .select(["u.id", "u.username", "u.role", "u.created_at", "u.token_version", "u.disabled_at"])
    .where("i.issuer", "=", identity.issuer)
    .where("i.subject", "=", identity.subject);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

async function signInLinked(
  tx: Kysely<Database>,
  row: LinkedUserRow,
  identity: ExternalIdentity,
  audit: { address?: string; traceId?: string },
): Promise<IdentitySignIn> {
  const target = `user:${row.username}`;
  let user = toUser(row);
  let previousRole: Role | undefined;
  if (row.role !== identity.role) {
    previousRole = user.role;
    await tx.updateTable("users").set({ role: identity.role }).where("id", "=", row.id).execute();
    // Tokens signed with the old role must stop working now, not when they expire.
    const version = (await bumpTokenVersion(tx, row.id)) ?? user.tokenVersion;
    user = { ...user, role: identity.role, tokenVersion: version };
  }
  await tx
    .updateTable("user_identities")
    .set({ last_login_at: sql<Date>`now()` })
    .where("issuer", "=", identity.issuer)
    .where("subject", "=", identity.subject)
    .execute();
  await recordAudit(tx, {
    actor: target,
    action: "user.sso_login",
    target,
    details: {
      issuer: identity.issuer,
      address: audit.address,
      role: identity.role,
      ...(previousRole ? { previous_role: previousRole } : {}),
    },
    traceId: audit.traceId,
  });
  return { user, created: false, ...(previousRole ? { previousRole } : {}) };
}

async function createLinked(
  tx: Kysely<Database>,
  identity: ExternalIdentity,
  passwordHash: string,
  audit: { address?: string; traceId?: string },
): Promise<IdentitySignIn> {
  const wanted = usernameFromHint(identity.usernameHint, identity);
  let row = await insertUser(tx, wanted, identity.role, passwordHash);
  let collided = false;
  if (!row) {
    // The name belongs to someone else (a local account, or another identity's user).
    collided = true;
    row = await insertUser(tx, suffixed(wanted, identity), identity.role, passwordHash);
    if (!row) throw new UserError("exists", `no free username for this account (tried ${wanted})`);
  }
  await tx
    .insertInto("user_identities")
    .values({ user_id: row.id, issuer: identity.issuer, subject: identity.subject })
    .execute();
  const target = `user:${row.username}`;
  await recordAudit(tx, {
    actor: `sso:${identity.issuer}`,
    action: "user.create",
    target,
    details: { role: identity.role, issuer: identity.issuer, ...(collided ? { name_taken: wanted } : {}) },
    traceId: audit.traceId,
  });
  await recordAudit(tx, {
    actor: target,
    action: "user.sso_login",
    target,
    details: { issuer: identity.issuer, address: audit.address, role: identity.role },
    traceId: audit.traceId,
  });
  return { user: toUser(row), created: true };
}

async function insertUser(tx: Kysely<Database>, username: string, role: Role, passwordHash: string) {
  return tx
    .insertInto("users")
    .values({ username, password_hash: passwordHash, role })
    .onConflict((oc) => oc.column("username").doNothing())
    .returning(["id", "username", "role", "created_at", "token_version", "disabled_at"])
    .executeTakeFirst();
}

/**
 * A Vigil username from whatever the provider sent: lower-cased, every
 * character outside [a-z0-9._@-] replaced by '-', at most 64 characters; a
 * hint with too little left (under 3 characters) becomes `sso-<hash>`.
 */
export function usernameFromHint(hint: string, identity: Pick<ExternalIdentity, "issuer" | "subject">): string {
  const cleaned = normalizeUsername(hint.slice(0, 256))
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(/[^a-z0-9._@-]/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 64);
  const name = cleaned.length >= 3 ? cleaned : `sso-${identityHash(identity)}`;
  if (!USERNAME_PATTERN.test(name)) throw new UserError("invalid", "no valid username from the identity");
  return name;
}

/** `name` with a suffix only this identity produces: `alice.sso-1a2b3c4d`. */
function suffixed(name: string, identity: Pick<ExternalIdentity, "issuer" | "subject">): string {
  const suffix = `.sso-${identityHash(identity)}`;
  return `${name.slice(0, 64 - suffix.length)}${suffix}`;
}

function identityHash(identity: Pick<ExternalIdentity, "issuer" | "subject">): string {
  return createHash("sha256").update(`${identity.issuer}\n${identity.subject}`).digest("hex").slice(0, 8);
}

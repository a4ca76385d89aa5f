import { type Database, type Kysely, sql } from "@vigil/db";

/**
 * Ends every access token `userId` holds, on every replica: raises the
 * user's token version (tokens carry the version they were signed with and
 * are refused once it is behind). Call it inside the transaction that
 * makes the change (sign-out, role change, disable), then announce the
 * returned version to the other replicas (`UserEvents` in @vigil/bus).
 * Undefined when there is no such user.
 */
export async function bumpTokenVersion(db: Kysely<Database>, userId: number): Promise<number | undefined> {
  const row = await db
    .updateTable("users")
    .set({ token_version: sql<number>`token_version + 1` })
    .where("id", "=", userId)
    .returning("token_version")
    .executeTakeFirst();
  return row?.token_version;
}

/** The token version of an enabled user; undefined when the user is unknown or disabled. */
export async function currentTokenVersion(db: Kysely<Database>, userId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom("users")
    .select("token_version")
    .where("id", "=", userId)
    .where("disabled_at", "is", null)
    .executeTakeFirst();
  return row?.token_version;
}

export interface TokenVersionCacheOptions {
  /** Reads a user's current version (currentTokenVersion); undefined: refuse every token of the user. */
  load(userId: number): Promise<number | undefined>;
  /** How long a loaded version is trusted before it is read again. */
  ttlMs: number;
  now?: () => number;
}

/**
 * Answers "is this token's version current?" without a database read per
 * request: versions are cached per user for `ttlMs`, and changes announced
 * by other replicas (observe) apply at once. Versions only grow, so the
 * cache keeps the highest it has seen: a slow read that started before an
 * announcement cannot bring an older version back. Memory follows the
 * users active within the TTL.
 */
export class TokenVersionCache {
  private readonly entries = new Map<number, { version: number | undefined; loadedMs: number }>();
  private readonly loading = new Map<number, Promise<number | undefined>>();
  private readonly options: TokenVersionCacheOptions;
  private readonly now: () => number;
  private lastSweepMs = 0;

  constructor(options: TokenVersionCacheOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** True when `version` is the user's current one (a newer token than the cache knows counts too). */
  async isCurrent(userId: number, version: number): Promise<boolean> {
    const current = await this.current(userId);
    return current !== undefined && version >= current;
  }

  /** Applies a version announced by another replica (or set here). */
  observe(userId: number, version: number): void {
    const entry = this.entries.get(userId);
    if (entry && entry.version !== undefined && entry.version >= version) return;
    this.entries.set(userId, { version, loadedMs: entry?.loadedMs ?? this.now() });
  }

  private async current(userId: number): Promise<number | undefined> {
    const nowMs = this.now();
    this.sweep(nowMs);
    const entry = this.entries.get(userId);
    if (entry && nowMs - entry.loadedMs < this.options.ttlMs) return entry.version;
    let pending = this.loading.get(userId);
    if (!pending) {
      pending = this.options.load(userId).finally(() => this.loading.delete(userId));
      this.loading.set(userId, pending);
    }
    const loaded = await pending;
    const seen = this.entries.get(userId)?.version;
    // An announcement may have raised it meanwhile; a disabled user (undefined) stays refused.
    const version = loaded === undefined ? undefined : Math.max(loaded, seen ?? loaded);
    this.entries.set(userId, { version, loadedMs: nowMs });
    return version;
  }

  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < this.options.ttlMs) return;
    this.lastSweepMs = nowMs;
    for (const [id, entry] of this.entries) if (nowMs - entry.loadedMs >= this.options.ttlMs) this.entries.delete(id);
  }
}

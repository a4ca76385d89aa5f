import type { UserEvents } from "@vigil/bus";
import type { Database, Kysely } from "@vigil/db";
import type { Logger } from "@vigil/runtime";
import { currentTokenVersion, TokenVersionCache } from "@vigil/users";

export interface TokenVersionsDeps {
  db: Kysely<Database>;
  /** Announcements to and from the other query replicas. */
  events: UserEvents;
  /** How long a user's version is trusted without reading it again (a replica that missed an announcement). */
  ttlMs: number;
  log: Logger;
}

/**
 * Which access tokens are still good, on this replica: a token is refused
 * once its user's token version moved past the one it carries. The version
 * is read from the database at most once per user per TTL; a change made
 * on any replica is announced over NATS (`vigil.control.users`) and applies
 * everywhere at once.
 *
 * To end a user's access tokens: `bumpTokenVersion(tx, userId)` (from
 * @vigil/users) in the transaction that makes the change, then, once it has
 * committed, `announce(userId, version)`.
 */
export class TokenVersions {
  private readonly cache: TokenVersionCache;
  private readonly deps: TokenVersionsDeps;
  private subscription: { stop(): void } | undefined;
  private readonly listeners = new Set<(userId: number, tokenVersion: number) => void>();

  constructor(deps: TokenVersionsDeps) {
    this.deps = deps;
    this.cache = new TokenVersionCache({ load: (id) => currentTokenVersion(deps.db, id), ttlMs: deps.ttlMs });
  }

  /** Starts applying other replicas' announcements. */
  start(): void {
    this.subscription ??= this.deps.events.subscribe((e) => {
      if (Number.isSafeInteger(e.userId) && Number.isSafeInteger(e.tokenVersion)) {
        this.cache.observe(e.userId, e.tokenVersion);
        this.notify(e.userId, e.tokenVersion);
      }
    });
  }

  stop(): void {
    this.subscription?.stop();
    this.subscription = undefined;
  }

  /** True while `tokenVersion` is the user's current version (and the user is enabled). */
  isCurrent(userId: number, tokenVersion: number): Promise<boolean> {
    return this.cache.isCurrent(userId, tokenVersion);
  }

  /**
   * Applies a raised version here at once and tells every other replica. A
   * replica that misses it (NATS down) catches up within the TTL.
   */
  async announce(userId: number, tokenVersion: number): Promise<void> {
    this.cache.observe(userId, tokenVersion);
    this.notify(userId, tokenVersion);
    await this.deps.events.publish({ userId, tokenVersion }).catch((err) => {
      this.deps.log.warn({ err, userId }, "could not announce a token version; other replicas apply it within the TTL");
    });
  }

  /**
   * Calls `listener` with every version raised here or announced by another
   * replica (open streams end with their token). Returns the unsubscribe.
   */
  onRaised(listener: (userId: number, tokenVersion: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(userId: number, tokenVersion: number): void {
    for (const listener of this.listeners) listener(userId, tokenVersion);
  }
}

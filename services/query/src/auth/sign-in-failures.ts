import type { AuditEntry } from "@vigil/db";

export interface SignInFailuresOptions {
  /** Failures are summed over this window, then written (one entry per username). */
  windowMs: number;
  /** Usernames tracked per window; failures for more are summed into one `user:*` entry. */
  maxUsernames: number;
  /** Client addresses named per entry; more are counted only. */
  maxAddresses: number;
  /** Where the summaries go (the audit log); failures are logged, never thrown. */
  write: (entries: AuditEntry[]) => Promise<void>;
  now?: () => number;
}

interface Tally {
  failures: number;
  addresses: Set<string>;
  /** Failures from addresses beyond the ones named. */
  fromOtherAddresses: number;
  firstMs: number;
  lastMs: number;
  /** Distinct usernames summed into the overflow tally. */
  usernames?: Set<string>;
}

/** The key of names no account can have (refused before the database): never written out as typed. */
const IMPOSSIBLE = "";
const OVERFLOW = "*";

/**
 * Failed sign-ins in the audit log, aggregated so an anonymous client
 * cannot flood the hash chain: per window, one `auth.login_failed` entry
 * per username (`details.failures` counts them, with the first and last
 * time and up to `maxAddresses` client addresses), at most `maxUsernames`
 * entries plus one `user:*` entry summing the rest. So a window writes at
 * most maxUsernames + 2 entries, whatever the attack. Names no account can
 * have are summed under `user:(invalid)` without the text typed (it may be
 * a password entered in the wrong field). The sign-in limiter bounds the
 * attempts themselves. Written when the window closes and on stop(); a
 * crash loses the window in progress (docs/security.md).
 */
export class SignInFailures {
  private tallies = new Map<string, Tally>();
  private readonly options: SignInFailuresOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(options: SignInFailuresOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** Counts one failed sign-in; `username` undefined when no account can have the name given. */
  record(username: string | undefined, address: string): void {
    const now = this.now();
    let key = username ?? IMPOSSIBLE;
    if (key !== IMPOSSIBLE && !this.tallies.has(key) && this.namedUsernames() >= this.options.maxUsernames) {
      key = OVERFLOW;
    }
    let tally = this.tallies.get(key);
    if (!tally) {
      tally = { failures: 0, addresses: new Set(), fromOtherAddresses: 0, firstMs: now, lastMs: now };
      this.tallies.set(key, tally);
    }
    tally.failures++;
    tally.lastMs = now;
    if (!tally.addresses.has(address)) {
      if (tally.addresses.size < this.options.maxAddresses) tally.addresses.add(address);
      else tally.fromOtherAddresses++;
    }
    if (key === OVERFLOW && username !== undefined) {
      tally.usernames ??= new Set();
      // Only how many: the set is bounded like the addresses.
      if (tally.usernames.size < 10_000) tally.usernames.add(username);
    }
    this.timer ??= setTimeout(() => void this.flush(), this.options.windowMs);
    this.timer.unref?.();
  }

  /** Usernames with a tally of their own this window. */
  private namedUsernames(): number {
    return this.tallies.size - (this.tallies.has(IMPOSSIBLE) ? 1 : 0) - (this.tallies.has(OVERFLOW) ? 1 : 0);
  }

  /** Writes the window in progress now (on shutdown, and for tests). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const tallies = this.tallies;
    this.tallies = new Map();
    if (tallies.size === 0) return this.flushing;
    const entries = [...tallies].map(([key, t]) => toEntry(key, t));
    // write() logs its own failures; the chain must go on after one.
    this.flushing = this.flushing.then(() => this.options.write(entries)).catch(() => {});
    return this.flushing;
  }
}

function toEntry(key: string, t: Tally): AuditEntry {
  const target = key === IMPOSSIBLE ? "user:(invalid)" : key === OVERFLOW ? "user:*" : `user:${key}`;
  return {
    actor: "anonymous",
    action: "auth.login_failed",
    target,
    details: {
      failures: t.failures,
      first: new Date(t.firstMs).toISOString(),
      last: new Date(t.lastMs).toISOString(),
      addresses: [...t.addresses],
      ...(t.fromOtherAddresses > 0 ? { failuresFromOtherAddresses: t.fromOtherAddresses } : {}),
      ...(t.usernames ? { usernames: t.usernames.size } : {}),
    },
    rowsAffected: t.failures,
  };
}

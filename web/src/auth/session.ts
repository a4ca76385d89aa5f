import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { AuthService, Role, type Tokens } from "@vigil/proto";

/** What the console keeps of a sign-in: the API's Tokens, flattened. */
export interface Session {
  username: string;
  role: "admin" | "user" | string;
  /** Scopes the access token grants, such as "readings:read". */
  scopes: string[];
  accessToken: string;
  /** When the access token was received and when it expires, on this browser's clock (ms since the epoch). */
  accessIssuedAt: number;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

/** Why the console signed the user out by itself, for the sign-in page to say. */
export type SignOutReason = "expired" | "signed-out";

const STORAGE_KEY = "vigil.session";
const REFRESH_LOCK = "vigil.session.refresh";
/** Refresh this long before the access token expires, so no call ever carries an expired one. */
const REFRESH_MARGIN_MS = 60_000;

/**
 * Converts the API's Tokens (from Login, Refresh, or a future single sign-on
 * exchange). Expiry is kept on this browser's clock: the token's lifetime
 * (its exp minus iat claims) from now, so a skewed clock neither refreshes in
 * a loop nor sends expired tokens.
 */
export function sessionFromTokens(tokens: Tokens, nowMs = Date.now()): Session {
  const role = tokens.user?.role;
  const serverExpiry = tokens.accessTokenExpireTime ? timestampMs(tokens.accessTokenExpireTime) : nowMs;
  const lifetime = tokenLifetimeMs(tokens.accessToken) ?? serverExpiry - nowMs;
  return {
    username: tokens.user?.username ?? "",
    // Role names as the API spells them (ADMIN, USER, …), lower-cased.
    role: (Object.entries(Role).find(([, v]) => v === role)?.[0] ?? "").toLowerCase(),
    scopes: [...tokens.scopes],
    accessToken: tokens.accessToken,
    accessIssuedAt: nowMs,
    accessExpiresAt: nowMs + lifetime,
    refreshToken: tokens.refreshToken,
    refreshExpiresAt: tokens.refreshTokenExpireTime ? timestampMs(tokens.refreshTokenExpireTime) : 0,
  };
}

/** exp − iat of a JWT, in ms; undefined when the token does not say. */
export function tokenLifetimeMs(jwt: string): number | undefined {
  try {
    const payload = jwt.split(".")[1] ?? "";
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { iat?: unknown; exp?: unknown };
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp <= claims.iat) return undefined;
    return (claims.exp - claims.iat) * 1000;
  } catch {
    return undefined;
  }
}

/** When to refresh a session proactively: a minute before expiry, or at 80 % of a short lifetime. */
export function refreshDueAt(session: Session): number {
  const lifetime = session.accessExpiresAt - session.accessIssuedAt;
  return session.accessExpiresAt - Math.min(REFRESH_MARGIN_MS, Math.max(0, lifetime) * 0.2);
}

function isSession(value: unknown): value is Session {
  const s = value as Session;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.accessToken === "string" &&
    typeof s.refreshToken === "string" &&
    typeof s.accessExpiresAt === "number" &&
    typeof s.accessIssuedAt === "number" &&
    Array.isArray(s.scopes)
  );
}

/**
 * The signed-in user's tokens, shared by every tab of the console.
 *
 * Invariant: a refresh token is spent at most once. The API revokes a whole
 * sign-in when a spent refresh token comes back, so refreshes are serialised
 * across tabs with the Web Locks API, and a tab that gets the lock after
 * another tab refreshed adopts the stored result instead of refreshing again.
 * Tokens live in localStorage (the API returns them in response bodies, not
 * cookies); the strict Content-Security-Policy the query service sends keeps
 * other scripts off the page. Signing out in one tab signs out every tab.
 */
export class SessionStore {
  private session: Session | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly auth;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<Session | undefined> | undefined;
  /** Set when the console ended the session itself (the sign-in page says why). */
  lastSignOutReason: SignOutReason | undefined;

  private readonly storage: Storage;

  constructor(transport: Transport, storage: Storage = window.localStorage) {
    this.storage = storage;
    this.auth = createClient(AuthService, transport);
    this.session = this.read();
    window.addEventListener("storage", (e) => {
      if (e.key !== STORAGE_KEY) return;
      const next = this.read();
      if (!next && this.session) this.lastSignOutReason = "signed-out";
      this.set(next, false);
    });
    this.schedule();
  }

  /** The current session, or undefined when signed out (stable between changes, for useSyncExternalStore). */
  readonly current = (): Session | undefined => this.session;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Starts a session from a sign-in's tokens (local sign-in today; single sign-on later). */
  signIn(tokens: Tokens): void {
    this.lastSignOutReason = undefined;
    this.set(sessionFromTokens(tokens), true);
  }

  /** Ends the session here and at the API (the refresh token and its sign-in are revoked). */
  async signOut(): Promise<void> {
    const ending = this.session;
    this.lastSignOutReason = "signed-out";
    this.set(undefined, true);
    if (ending) {
      await this.auth.logout({ refreshToken: ending.refreshToken }).catch(() => {
        // Signed out here either way; the refresh token expires by itself.
      });
    }
  }

  /**
   * An access token that is valid now, refreshed first if it is about to
   * expire; undefined when signed out.
   */
  async accessToken(): Promise<string | undefined> {
    const s = this.session;
    if (!s) return undefined;
    if (Date.now() < refreshDueAt(s)) return s.accessToken;
    return (await this.refresh(s.accessToken))?.accessToken;
  }

  /**
   * Exchanges the refresh token for new tokens, unless the access token
   * `stale` has already been replaced (by this tab or another). Signs out
   * when the API refuses the refresh token; keeps the session on network
   * errors (the caller's request fails and is retried later).
   */
  refresh(stale?: string): Promise<Session | undefined> {
    this.refreshing ??= this.lockedRefresh(stale).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async lockedRefresh(stale: string | undefined): Promise<Session | undefined> {
    const run = async () => {
      const stored = this.read();
      if (!stored) {
        this.set(undefined, false);
        return undefined;
      }
      // Another tab refreshed while this one waited for the lock: use its tokens.
      if (stale !== undefined && stored.accessToken !== stale && Date.now() < refreshDueAt(stored)) {
        this.set(stored, false);
        return stored;
      }
      try {
        const res = await this.auth.refresh({ refreshToken: stored.refreshToken });
        if (!res.tokens) throw new ConnectError("refresh returned no tokens", Code.Internal);
        const next = sessionFromTokens(res.tokens);
        this.set(next, true);
        return next;
      } catch (err) {
        const code = ConnectError.from(err).code;
        if (code === Code.Unauthenticated || code === Code.PermissionDenied || code === Code.InvalidArgument) {
          this.lastSignOutReason = "expired";
          this.set(undefined, true);
          return undefined;
        }
        throw err;
      }
    };
    // Web Locks exist in secure contexts (https, localhost); elsewhere one tab still refreshes once at a time.
    return navigator.locks ? navigator.locks.request(REFRESH_LOCK, run) : run();
  }

  private read(): Session | undefined {
    try {
      const raw = this.storage.getItem(STORAGE_KEY);
      const parsed: unknown = raw ? JSON.parse(raw) : undefined;
      return isSession(parsed) && parsed.refreshExpiresAt > Date.now() ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  private set(next: Session | undefined, persist: boolean): void {
    if (persist) {
      if (next) this.storage.setItem(STORAGE_KEY, JSON.stringify(next));
      else this.storage.removeItem(STORAGE_KEY);
    }
    const changed = next?.accessToken !== this.session?.accessToken;
    this.session = next;
    this.schedule();
    if (changed) for (const l of this.listeners) l();
  }

  /** Refreshes ahead of expiry so long-open pages and new calls never see an expired token. */
  private schedule(): void {
    clearTimeout(this.timer);
    const s = this.session;
    if (!s) return;
    const wait = Math.max(1_000, refreshDueAt(s) - Date.now());
    this.timer = setTimeout(() => {
      this.refresh(s.accessToken).catch(() => {
        // Offline: try again shortly; calls made meanwhile refresh on their own.
        this.timer = setTimeout(() => this.schedule(), 5_000);
      });
    }, wait);
  }
}

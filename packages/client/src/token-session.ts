import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { AuthService, Tokens } from "../../proto/src/gen/vigil/auth/v1/auth_pb.ts";

/**
 * Where a session keeps its tokens between calls, and between processes.
 * The default keeps them in memory; the `vigil` CLI keeps them in a file.
 */
export interface TokenStore {
  load(): Promise<Tokens | undefined> | Tokens | undefined;
  /** Called with every new pair of tokens, and with undefined after a logout. */
  save(tokens: Tokens | undefined): Promise<void> | void;
  /**
   * Runs a refresh exclusively. A refresh token works once and reusing a
   * spent one signs the user out everywhere, so processes sharing a store
   * (two shells, a cron job) must not refresh with the same token at once.
   * Within one process the session already refreshes once at a time.
   */
  exclusive?<T>(work: () => Promise<T>): Promise<T>;
}

export interface TokenSessionOptions {
  /** AuthService on a transport without this session's interceptor (Refresh and Logout need no token). */
  auth: Client<typeof AuthService>;
  store?: TokenStore;
  /** Refresh this long before the access token expires (default 30 s). */
  refreshBeforeMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * Signed-in state for API clients: hands out a current access token,
 * refreshing it shortly before it expires (once, even with many calls in
 * flight), and retries a unary call once with fresh tokens when the server
 * refuses a token it no longer accepts (for example after a key rotation).
 */
export class TokenSession {
  readonly #auth: Client<typeof AuthService>;
  readonly #store: TokenStore;
  readonly #refreshBeforeMs: number;
  readonly #now: () => number;
  #refreshing: Promise<Tokens | undefined> | undefined;

  constructor(options: TokenSessionOptions) {
    this.#auth = options.auth;
    this.#store = options.store ?? memoryStore();
    this.#refreshBeforeMs = options.refreshBeforeMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Signs in and keeps the tokens. */
  async login(username: string, password: string): Promise<Tokens> {
    const { tokens } = await this.#auth.login({ username, password });
    if (!tokens) throw new ConnectError("the server returned no tokens", Code.Internal);
    await this.#store.save(tokens);
    return tokens;
  }

  /** Keeps tokens another call issued (ChangePassword's new sign-in) in place of the current ones. */
  async keep(tokens: Tokens): Promise<void> {
    await this.#store.save(tokens);
  }

  /** Revokes the refresh token on the server (every token of this sign-in) and forgets the tokens. */
  async logout(): Promise<void> {
    const tokens = await this.#store.load();
    if (tokens?.refreshToken) {
      await this.#auth.logout({ refreshToken: tokens.refreshToken }).catch((err) => {
        // Already expired or revoked: the outcome the caller wants.
        if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      });
    }
    await this.#store.save(undefined);
  }

  /** The current tokens, if signed in (access token possibly expired). */
  async tokens(): Promise<Tokens | undefined> {
    return this.#store.load();
  }

  /**
   * An access token valid for at least the refresh margin, refreshing first
   * when needed; undefined when not signed in.
   */
  async accessToken(options: { force?: boolean } = {}): Promise<string | undefined> {
    const tokens = await this.#store.load();
    if (!tokens) return undefined;
    if (!options.force && !this.#expiresSoon(tokens)) return tokens.accessToken;
    const fresh = await this.#refresh(tokens.accessToken);
    return fresh?.accessToken;
  }

  /** An interceptor that sends `Authorization: Bearer <access token>` and refreshes as needed. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const token = await this.accessToken();
      if (token) req.header.set("authorization", `Bearer ${token}`);
      try {
        return await next(req);
      } catch (err) {
        // A token the server no longer takes: refresh once and retry unary calls (their
        // request is a single message, safe to send again; a stream's is consumed).
        if (!token || req.stream || ConnectError.from(err).code !== Code.Unauthenticated) throw err;
        const fresh = await this.accessToken({ force: true }).catch(() => undefined);
        if (!fresh || fresh === token) throw err;
        req.header.set("authorization", `Bearer ${fresh}`);
        return next(req);
      }
    };
  }

  #expiresSoon(tokens: Tokens): boolean {
    const expires = tokens.accessTokenExpireTime ? timestampMs(tokens.accessTokenExpireTime) : 0;
    return expires - this.#now() < this.#refreshBeforeMs;
  }

  /** One refresh at a time in this process, and exclusive across processes when the store can. */
  #refresh(staleAccessToken: string): Promise<Tokens | undefined> {
    this.#refreshing ??= (async () => {
      try {
        const run = () => this.#refreshUnlocked(staleAccessToken);
        return await (this.#store.exclusive ? this.#store.exclusive(run) : run());
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #refreshUnlocked(staleAccessToken: string): Promise<Tokens | undefined> {
    // Another process may have refreshed while this one waited for the lock.
    const current = await this.#store.load();
    if (!current) return undefined;
    if (current.accessToken !== staleAccessToken && !this.#expiresSoon(current)) return current;
    const refreshExpires = current.refreshTokenExpireTime ? timestampMs(current.refreshTokenExpireTime) : 0;
    if (!current.refreshToken || refreshExpires <= this.#now()) {
      throw new ConnectError("the sign-in has expired: sign in again", Code.Unauthenticated);
    }
    try {
      const { tokens } = await this.#auth.refresh({ refreshToken: current.refreshToken });
      if (!tokens) throw new ConnectError("the server returned no tokens", Code.Internal);
      await this.#store.save(tokens);
      return tokens;
    } catch (err) {
      const error = ConnectError.from(err);
      if (error.code === Code.Unauthenticated) {
        // Spent, revoked or expired: the stored sign-in is over.
        await this.#store.save(undefined);
        throw new ConnectError(`the sign-in has ended (${error.rawMessage}): sign in again`, Code.Unauthenticated);
      }
      throw err;
    }
  }
}

/** A TokenStore in memory, optionally starting with tokens. */
export function memoryStore(initial?: Tokens): TokenStore {
  let tokens = initial;
  return {
    load: () => tokens,
    save: (next) => {
      tokens = next;
    },
  };
}

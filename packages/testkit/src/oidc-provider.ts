import { generateKeyPairSync, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

/** An account at the test provider: its claims (sub defaults to the login name). */
export type OidcTestClaims = Record<string, unknown>;

export interface OidcTestProvider {
  /** http://127.0.0.1:<port>: the issuer, its discovery document below it. */
  readonly issuer: string;
  /** Adds or replaces the account signing in with `login`; the next sign-in sees the new claims. */
  setAccount(login: string, claims: OidcTestClaims): void;
  /**
   * Rewrites the ID token in token endpoint responses (a man in the middle, or a forger); undefined:
   * stop. Its signature is left as it was.
   */
  tamperIdTokens(rewrite: ((idToken: string) => string) | undefined): void;
  stop(): Promise<void>;
}

export interface OidcTestProviderOptions {
  /** The relying party (Vigil) registered at the provider. */
  client: { clientId: string; clientSecret: string; redirectUris: string[] };
  accounts?: Record<string, OidcTestClaims>;
}

/**
 * A real OpenID Connect provider for tests: panva's oidc-provider (OpenID
 * Certified), on a random loopback port, with its development login and
 * consent pages (any password is taken; the login name picks the account).
 * It signs ID tokens with a fresh RS256 key, requires PKCE, and puts the
 * claims the requested scopes name into the ID token, as providers
 * configured for a groups claim do. Scopes: openid, profile
 * (preferred_username, name), email, groups.
 */
export async function startOidcProvider(options: OidcTestProviderOptions): Promise<OidcTestProvider> {
  const accounts = new Map(Object.entries(options.accounts ?? {}));
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.client.clientId,
        client_secret: options.client.clientSecret,
        redirect_uris: options.client.redirectUris,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "test-rs256", use: "sig", alg: "RS256" }] },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    scopes: ["openid", "profile", "email", "groups"],
    claims: {
      openid: ["sub"],
      profile: ["preferred_username", "name"],
      email: ["email", "email_verified"],
      groups: ["groups"],
    },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      const claims = accounts.get(id);
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
  });
  // Silence the development-mode warnings' stack traces on errors the tests cause on purpose.
  provider.on("server_error", () => {});
  let rewrite: ((idToken: string) => string) | undefined;
  provider.use(async (ctx, next) => {
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (rewrite && ctx.path === "/token" && typeof body?.id_token === "string") {
      ctx.body = { ...body, id_token: rewrite(body.id_token) };
    }
  });
  server.on("request", provider.callback());
  return {
    issuer,
    setAccount(login, claims) {
      accounts.set(login, claims);
    },
    tamperIdTokens(next) {
      rewrite = next;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

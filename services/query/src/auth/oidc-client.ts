import type { Logger } from "@vigil/runtime";
import * as client from "openid-client";
import { isLoopbackHost, type OidcSettings } from "./oidc-config.ts";
import type { PendingSignIn } from "./oidc-store.ts";

/** Seconds any request to the provider may take (discovery, JWKS, token endpoint). */
const PROVIDER_TIMEOUT_S = 10;
/** After a failed discovery, the next sign-in tries again no sooner than this. */
const DISCOVERY_RETRY_MS = 5_000;

/** What a new sign-in sends to the provider, and keeps to check what comes back. */
export interface SignInStart extends PendingSignIn {
  state: string;
  authorizationUrl: URL;
}

/**
 * Vigil as an OpenID Connect relying party, on panva's openid-client
 * (OpenID Certified): authorization code flow with PKCE (S256), state and
 * nonce. The provider's metadata is discovered at the first sign-in (and
 * again after a failure), so the query service starts while the provider is
 * down. ID tokens are checked for issuer, audience, expiry, nonce and, with
 * non-repudiation checks on, their signature against the provider's JWKS.
 */
export class OidcClient {
  private config: client.Configuration | undefined;
  private discovering: Promise<client.Configuration> | undefined;
  private lastFailureMs = Number.NEGATIVE_INFINITY;

  private readonly settings: OidcSettings;
  private readonly log: Logger;

  constructor(settings: OidcSettings, log: Logger) {
    this.settings = settings;
    this.log = log;
  }

  /** Starts a sign-in: fresh state, nonce and PKCE verifier, and the provider's URL to send the browser to. */
  async start(): Promise<SignInStart> {
    const config = await this.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const authorizationUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl.href,
      scope: this.settings.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return { state, nonce, codeVerifier, authorizationUrl };
  }

  /**
   * Finishes a sign-in from the callback's query string: checks the response
   * (state, issuer), redeems the code with the PKCE verifier, validates the
   * ID token and returns its claims. Throws on anything wrong.
   */
  async finish(search: URLSearchParams, state: string, pending: PendingSignIn): Promise<Record<string, unknown>> {
    const config = await this.configuration();
    const current = new URL(this.settings.redirectUrl.href);
    current.search = search.toString();
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error("the provider returned no ID token");
    return claims as Record<string, unknown>;
  }

  private async configuration(): Promise<client.Configuration> {
    if (this.config) return this.config;
    if (Date.now() - this.lastFailureMs < DISCOVERY_RETRY_MS) {
      throw new Error("the identity provider could not be reached a moment ago");
    }
    this.discovering ??= this.discover().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async discover(): Promise<client.Configuration> {
    const { issuer, clientId, clientSecret } = this.settings;
    try {
      const config = await client.discovery(
        issuer,
        clientId,
        { client_secret: clientSecret, redirect_uris: [this.settings.redirectUrl.href], response_types: ["code"] },
        client.ClientSecretBasic(clientSecret),
        {
          timeout: PROVIDER_TIMEOUT_S,
          execute: [
            // Verify every ID token's signature with the provider's JWKS, not only TLS to the token endpoint.
            client.enableNonRepudiationChecks,
            // Plain http only to a provider on this machine (tests, a sidecar); config refuses it elsewhere.
            ...(issuer.protocol === "http:" && isLoopbackHost(issuer.hostname) ? [client.allowInsecureRequests] : []),
          ],
        },
      );
      const methods = config.serverMetadata().code_challenge_methods_supported;
      if (methods && !methods.includes("S256")) {
        this.log.warn({ issuer: issuer.href }, "the identity provider does not list PKCE S256; sending it anyway");
      }
      this.config = config;
      this.log.info({ issuer: issuer.href }, "identity provider discovered");
      return config;
    } catch (err) {
      this.lastFailureMs = Date.now();
      this.log.warn({ issuer: issuer.href, err: (err as Error).message }, "identity provider discovery failed");
      throw err;
    }
  }
}

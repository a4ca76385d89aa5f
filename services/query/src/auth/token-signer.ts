import { randomUUID, type webcrypto } from "node:crypto";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  type JWK,
  jwtVerify,
  SignJWT,
} from "jose";

type Key = webcrypto.CryptoKey;

export const ISSUER = "vigil";
export const AUDIENCE = "vigil-api";
const ALGORITHM = "EdDSA";

/** Who a verified access token speaks for. */
export interface Principal {
  userId: number;
  username: string;
  role: string;
  scopes: string[];
  /** The user's token version when the token was signed (claim `tv`; tokens from before it existed: 0). */
  tokenVersion: number;
}

/**
 * Signs and verifies access tokens: EdDSA (Ed25519) JWTs with a `kid`. The
 * first key signs; every key verifies, so keys rotate by adding a new key
 * first and removing the old one once its last tokens expired. Only EdDSA
 * is accepted: `alg: none` and algorithm confusion are refused.
 */
export class TokenSigner {
  private readonly signing: { kid: string; key: Key };
  private readonly verifying: Map<string, Key>;
  /** True when the keys were generated at start (development). */
  readonly ephemeral: boolean;

  private constructor(signing: { kid: string; key: Key }, verifying: Map<string, Key>, ephemeral: boolean) {
    this.signing = signing;
    this.verifying = verifying;
    this.ephemeral = ephemeral;
  }

  /**
   * From a JWK set of Ed25519 private keys (`{"keys":[{kty,crv,x,d,kid},…]}`),
   * or PEM PKCS#8 Ed25519 keys one after another (what Helm's genPrivateKey
   * and openssl write; the kid is the key's JWK thumbprint), or a fresh key
   * when none is configured.
   */
  static async create(jwks: string | undefined): Promise<TokenSigner> {
    if (jwks?.trim().startsWith("-----BEGIN")) return TokenSigner.fromPem(jwks);
    if (!jwks) {
      const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { crv: "Ed25519" });
      const kid = `ephemeral-${randomUUID()}`;
      return new TokenSigner({ kid, key: privateKey }, new Map([[kid, publicKey]]), true);
    }
    let parsed: { keys?: JWK[] };
    try {
      parsed = JSON.parse(jwks);
    } catch {
      throw new Error("AUTH_JWT_KEYS is not valid JSON (expected a JWK set of Ed25519 private keys)");
    }
    const keys = parsed.keys ?? [];
    if (keys.length === 0) throw new Error("AUTH_JWT_KEYS has no keys");
    const verifying = new Map<string, Key>();
    let signing: { kid: string; key: Key } | undefined;
    for (const jwk of keys) {
      if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.kid || !jwk.d || !jwk.x) {
        throw new Error("every AUTH_JWT_KEYS key must be an Ed25519 private JWK with a kid");
      }
      const { d: _private, ...publicJwk } = jwk;
      verifying.set(jwk.kid, (await importJWK(publicJwk, ALGORITHM)) as Key);
      signing ??= { kid: jwk.kid, key: (await importJWK(jwk, ALGORITHM)) as Key };
    }
    return new TokenSigner(signing!, verifying, false);
  }

  private static async fromPem(pem: string): Promise<TokenSigner> {
    const blocks = pem.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/g) ?? [];
    if (blocks.length === 0) throw new Error("AUTH_JWT_KEYS holds no PEM PRIVATE KEY block");
    const keys: JWK[] = [];
    for (const block of blocks) {
      let key: Key;
      try {
        key = (await importPKCS8(block, ALGORITHM, { extractable: true })) as Key;
      } catch {
        throw new Error("every AUTH_JWT_KEYS PEM key must be an Ed25519 PKCS#8 private key");
      }
      const jwk = await exportJWK(key);
      keys.push({ ...jwk, kid: await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }) });
    }
    return TokenSigner.create(JSON.stringify({ keys }));
  }

  /** A new Ed25519 private JWK with a kid, for operators to put in AUTH_JWT_KEYS. */
  static async generateJwk(): Promise<JWK> {
    const { privateKey } = await generateKeyPair(ALGORITHM, { crv: "Ed25519", extractable: true });
    return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: ALGORITHM, use: "sig" };
  }

  async sign(principal: Principal, ttlMs: number): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(Date.now() + ttlMs);
    const token = await new SignJWT({
      username: principal.username,
      role: principal.role,
      scope: principal.scopes.join(" "),
      tv: principal.tokenVersion,
    })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.signing.kid, typ: "JWT" })
      .setSubject(String(principal.userId))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.signing.key);
    return { token, expiresAt };
  }

  /** The principal of a valid token; throws for anything else. */
  async verify(token: string): Promise<Principal> {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = header.kid ? this.verifying.get(header.kid) : undefined;
        if (!key) throw new Error("unknown key id");
        return key;
      },
      { algorithms: [ALGORITHM], issuer: ISSUER, audience: AUDIENCE, requiredClaims: ["sub", "exp", "iat"] },
    );
    const userId = Number(payload.sub);
    const tokenVersion = payload.tv ?? 0;
    if (
      !Number.isSafeInteger(userId) ||
      typeof payload.username !== "string" ||
      typeof payload.scope !== "string" ||
      !Number.isSafeInteger(tokenVersion)
    ) {
      throw new Error("malformed claims");
    }
    return {
      userId,
      username: payload.username,
      role: String(payload.role),
      scopes: payload.scope.split(" ").filter(Boolean),
      tokenVersion: tokenVersion as number,
    };
  }
}

import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AUDIENCE, ISSUER, TokenSigner } from "./token-signer.ts";

const alice = {
  userId: 7,
  username: "alice",
  role: "user",
  scopes: ["readings:read", "readings:write"],
  tokenVersion: 3,
};

describe("TokenSigner", () => {
  it("signs tokens it verifies, with a kid", async () => {
    const signer = await TokenSigner.create(undefined);
    const { token } = await signer.sign(alice, 60_000);
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toMatchObject({
      alg: "EdDSA",
      kid: expect.any(String),
    });
    expect(await signer.verify(token)).toEqual(alice);
  });

  it("rotates: a new first key signs, the old one still verifies its tokens", async () => {
    const [oldKey, newKey] = [await TokenSigner.generateJwk(), await TokenSigner.generateJwk()];
    const before = await TokenSigner.create(JSON.stringify({ keys: [oldKey] }));
    const after = await TokenSigner.create(JSON.stringify({ keys: [newKey, oldKey] }));
    const { token: old } = await before.sign(alice, 60_000);
    expect(await after.verify(old)).toEqual(alice);
    const { token: fresh } = await after.sign(alice, 60_000);
    await expect(before.verify(fresh)).rejects.toThrow(/unknown key id/);
  });

  it("refuses expired, tampered, alg none and foreign tokens", async () => {
    const signer = await TokenSigner.create(undefined);
    const other = await TokenSigner.create(undefined);
    const { token: expired } = await signer.sign(alice, -1_000);
    await expect(signer.verify(expired)).rejects.toThrow();
    const { token } = await signer.sign(alice, 60_000);
    const [h, p, s] = token.split(".");
    const body = JSON.parse(Buffer.from(p!, "base64url").toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...body, role: "admin", scope: "users:admin" })).toString("base64url")}.${s}`;
    await expect(signer.verify(tampered)).rejects.toThrow();
    const none = new UnsecuredJWT({ username: "alice", scope: "users:admin" })
      .setSubject("7")
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("1h")
      .encode();
    await expect(signer.verify(none)).rejects.toThrow();
    await expect(signer.verify((await other.sign(alice, 60_000)).token)).rejects.toThrow(/unknown key id/);
    const hs = await new SignJWT({ username: "alice", scope: "users:admin" })
      .setProtectedHeader({ alg: "HS256", kid: "x" })
      .setSubject("7")
      .sign(new Uint8Array(32));
    await expect(signer.verify(hs)).rejects.toThrow();
  });

  it("reads PEM PKCS#8 keys, as Helm's genPrivateKey writes them", async () => {
    const { privateKey } = await import("node:crypto").then((c) => c.generateKeyPairSync("ed25519"));
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const signer = await TokenSigner.create(pem);
    const again = await TokenSigner.create(`${pem}\n`);
    expect(await again.verify((await signer.sign(alice, 60_000)).token)).toEqual(alice);
    await expect(TokenSigner.create("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")).rejects.toThrow(
      /Ed25519/,
    );
  });

  it("refuses a configuration that is not a set of Ed25519 private keys", async () => {
    await expect(TokenSigner.create("{")).rejects.toThrow(/not valid JSON/);
    await expect(TokenSigner.create('{"keys":[]}')).rejects.toThrow(/no keys/);
    await expect(TokenSigner.create('{"keys":[{"kty":"RSA","kid":"a"}]}')).rejects.toThrow(/Ed25519/);
  });
});

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Role, TokensSchema } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { refreshDueAt, sessionFromTokens, tokenLifetimeMs } from "./session.ts";

function jwt(claims: object): string {
  const part = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "EdDSA" })}.${part(claims)}.signature`;
}

describe("sessionFromTokens", () => {
  it("keeps expiry on the browser's clock: the token's lifetime from now, whatever the server's clock says", () => {
    const now = 1_000_000;
    const session = sessionFromTokens(
      create(TokensSchema, {
        accessToken: jwt({ iat: 5_000, exp: 5_900 }), // 15 minutes, issued by a clock far from ours
        accessTokenExpireTime: timestampFromMs(5_900_000),
        refreshToken: "r",
        refreshTokenExpireTime: timestampFromMs(now + 86_400_000),
        user: { username: "alice", role: Role.ADMIN },
        scopes: ["readings:read", "audit:read"],
      }),
      now,
    );
    expect(session).toMatchObject({
      username: "alice",
      role: "admin",
      scopes: ["readings:read", "audit:read"],
      accessIssuedAt: now,
      accessExpiresAt: now + 900_000,
    });
  });

  it("falls back to the server's expiry when the token does not say", () => {
    expect(tokenLifetimeMs("not-a-jwt")).toBeUndefined();
    expect(tokenLifetimeMs(jwt({ exp: 10 }))).toBeUndefined();
    const s = sessionFromTokens(
      create(TokensSchema, { accessToken: "opaque", accessTokenExpireTime: timestampFromMs(70_000) }),
      10_000,
    );
    expect(s.accessExpiresAt).toBe(70_000);
  });
});

describe("refreshDueAt", () => {
  it("refreshes a minute early, or at 80 % of a short lifetime", () => {
    const base = { username: "", role: "", scopes: [], accessToken: "", refreshToken: "", refreshExpiresAt: 0 };
    expect(refreshDueAt({ ...base, accessIssuedAt: 0, accessExpiresAt: 900_000 })).toBe(840_000);
    expect(refreshDueAt({ ...base, accessIssuedAt: 0, accessExpiresAt: 10_000 })).toBe(8_000);
  });
});

import { describe, expect, it } from "vitest";
import { loadQueryConfig } from "../config.ts";
import { oidcSettings } from "./oidc-config.ts";

const base = {
  OIDC_ISSUER_URL: "https://idp.hospital.example/realms/staff",
  OIDC_CLIENT_ID: "vigil",
  OIDC_CLIENT_SECRET: "s3cret",
  OIDC_REDIRECT_URL: "https://vigil.hospital.example/auth/oidc/callback",
  OIDC_ROLE_MAP: "vigil-admins=admin",
};

function settings(env: Record<string, string | undefined>) {
  const config = loadQueryConfig(env);
  return oidcSettings(config, config.OIDC_CLIENT_SECRET);
}

describe("single sign-on configuration", () => {
  it("is off without an issuer", () => {
    expect(settings({})).toBeUndefined();
  });

  it("takes a complete configuration", () => {
    const s = settings(base);
    expect(s?.issuer.href).toBe("https://idp.hospital.example/realms/staff");
    expect(s?.scopes).toBe("openid profile email");
    expect(s?.roleMap).toEqual([{ value: "vigil-admins", role: "admin" }]);
  });

  it("refuses to start with half a configuration, naming the variable", () => {
    expect(() => settings({ ...base, OIDC_CLIENT_ID: undefined })).toThrow(/OIDC_CLIENT_ID/);
    expect(() => settings({ ...base, OIDC_CLIENT_SECRET: undefined })).toThrow(/OIDC_CLIENT_SECRET/);
    expect(() => settings({ ...base, OIDC_ROLE_MAP: undefined })).toThrow(/OIDC_ROLE_MAP/);
    expect(() => settings({ ...base, OIDC_SCOPES: "profile email" })).toThrow(/OIDC_SCOPES/);
    expect(() => settings({ ...base, OIDC_REDIRECT_URL: "https://vigil.example/elsewhere" })).toThrow(
      /OIDC_REDIRECT_URL/,
    );
  });

  it("refuses plain http to a provider or a callback that is not on this machine", () => {
    expect(() => settings({ ...base, OIDC_ISSUER_URL: "http://idp.hospital.example" })).toThrow(/OIDC_ISSUER_URL/);
    expect(() => settings({ ...base, OIDC_REDIRECT_URL: "http://vigil.example/auth/oidc/callback" })).toThrow(
      /OIDC_REDIRECT_URL/,
    );
    expect(settings({ ...base, OIDC_ISSUER_URL: "http://127.0.0.1:9000" })?.issuer.protocol).toBe("http:");
  });

  it("never makes admin the default role", () => {
    expect(() => settings({ ...base, OIDC_DEFAULT_ROLE: "admin" })).toThrow(/OIDC_DEFAULT_ROLE/);
    expect(settings({ ...base, OIDC_ROLE_MAP: undefined, OIDC_DEFAULT_ROLE: "user" })?.defaultRole).toBe("user");
  });
});

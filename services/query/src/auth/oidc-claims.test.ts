import { describe, expect, it } from "vitest";
import { claimValue, roleFromClaims, usernameHintFromClaims } from "./oidc-claims.ts";
import { parseRoleMap } from "./oidc-config.ts";

describe("OIDC claims to roles", () => {
  const roleMap = parseRoleMap("vigil-admins=admin,ward-7=clinician,biomed=technician,staff=user");

  it("takes the first mapping, in configured order, whose value the user holds", () => {
    const mapping = { roleClaim: "groups", roleMap };
    expect(roleFromClaims({ groups: ["staff", "vigil-admins"] }, mapping)).toBe("admin");
    expect(roleFromClaims({ groups: ["biomed", "ward-7"] }, mapping)).toBe("clinician");
    expect(roleFromClaims({ groups: "biomed" }, mapping)).toBe("technician");
    expect(roleFromClaims({ groups: ["visitors"] }, mapping)).toBeUndefined();
    expect(roleFromClaims({}, mapping)).toBeUndefined();
    expect(roleFromClaims({ groups: ["visitors"] }, { ...mapping, defaultRole: "user" })).toBe("user");
  });

  it("ignores what is not a string, and case or whitespace variants of a value", () => {
    const mapping = { roleClaim: "groups", roleMap };
    expect(roleFromClaims({ groups: [{ name: "vigil-admins" }, 1, null] }, mapping)).toBeUndefined();
    expect(roleFromClaims({ groups: ["Vigil-Admins", " vigil-admins"] }, mapping)).toBeUndefined();
    expect(roleFromClaims({ groups: { "vigil-admins": true } }, mapping)).toBeUndefined();
  });

  it("reads namespaced claims by their exact name and nested claims by a dotted path", () => {
    expect(claimValue({ "https://example.org/groups": ["a"] }, "https://example.org/groups")).toEqual(["a"]);
    expect(claimValue({ realm_access: { roles: ["b"] } }, "realm_access.roles")).toEqual(["b"]);
    expect(claimValue({ realm_access: ["x"] }, "realm_access.roles")).toBeUndefined();
    expect(claimValue({}, "__proto__.polluted")).toBeUndefined();
  });

  it("accepts JSON for values with commas and refuses unknown roles", () => {
    expect(parseRoleMap('{"cn=admins,ou=groups": "admin"}')).toEqual([{ value: "cn=admins,ou=groups", role: "admin" }]);
    expect(parseRoleMap("a=b=user")).toEqual([{ value: "a=b", role: "user" }]);
    expect(() => parseRoleMap("admins=root")).toThrow(/not admin, user/);
    expect(() => parseRoleMap("admins")).toThrow(/value=role/);
  });

  it("names a new user from the configured claim, else email, else the subject", () => {
    expect(usernameHintFromClaims({ preferred_username: "alice", sub: "1" }, "preferred_username")).toBe("alice");
    expect(usernameHintFromClaims({ email: "a@x.org", sub: "1" }, "preferred_username")).toBe("a@x.org");
    expect(usernameHintFromClaims({ sub: "1" }, "preferred_username")).toBe("1");
  });
});

import type { Role } from "@vigil/users";

/** Most values of a role claim looked at: a provider listing thousands of groups is cut here. */
const MAX_CLAIM_VALUES = 1_000;
const MAX_VALUE_LENGTH = 1_024;

/**
 * A claim's value by name: the top-level claim of that exact name first
 * (namespaced claims such as `https://example.org/groups` contain dots),
 * else a dotted path into nested objects (Keycloak's `realm_access.roles`).
 */
export function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split(".")) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, part)) {
      return undefined;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The strings a claim holds: one string, or a list's strings (others ignored), bounded in number and length. */
export function claimStrings(value: unknown): string[] {
  const list = typeof value === "string" ? [value] : Array.isArray(value) ? value.slice(0, MAX_CLAIM_VALUES) : [];
  return list.filter((v): v is string => typeof v === "string" && v.length <= MAX_VALUE_LENGTH);
}

/**
 * The Vigil role a user's claims map to: the first mapping (in configured
 * order) whose value the role claim holds, else the default role, else
 * undefined (the user is refused).
 */
export function roleFromClaims(
  claims: Record<string, unknown>,
  mapping: { roleClaim: string; roleMap: ReadonlyArray<{ value: string; role: Role }>; defaultRole?: Role },
): Role | undefined {
  const held = new Set(claimStrings(claimValue(claims, mapping.roleClaim)));
  for (const { value, role } of mapping.roleMap) if (held.has(value)) return role;
  return mapping.defaultRole;
}

/** What a new user's name is made from: the configured claim, else email, else the subject. */
export function usernameHintFromClaims(claims: Record<string, unknown>, usernameClaim: string): string {
  for (const candidate of [claimValue(claims, usernameClaim), claims.email, claims.sub]) {
    if (typeof candidate === "string" && candidate.trim().length > 0) return candidate.slice(0, 256);
  }
  return "";
}

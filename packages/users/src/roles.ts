/** What a token may do; one interceptor checks them per method. */
export const SCOPES = [
  "readings:read",
  "readings:write",
  "readings:delete",
  "devices:admin",
  "users:admin",
  "audit:read",
  "alerts:read",
  "alerts:write",
  "alerts:admin",
] as const;

export type Scope = (typeof SCOPES)[number];
export type Role = "admin" | "user";

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: SCOPES,
  // Users read and correct readings, and read, acknowledge and silence alerts; deleting,
  // devices, users, the audit log, alert rules and notification channels are for admins.
  user: ["readings:read", "readings:write", "alerts:read", "alerts:write"],
};

export function scopesFor(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role];
}

export function isRole(value: string): value is Role {
  return value === "admin" || value === "user";
}

/** What a token may do; one interceptor checks them per method. */
export const SCOPES = [
  "readings:read",
  // Corrections of clinical data (UpdateReadings): bounded, kept in the readings' history.
  "readings:correct",
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
  // Users read readings (and their history) and read, acknowledge and silence alerts; correcting,
  // deleting, devices, users, the audit log, alert rules and notification channels are for admins.
  user: ["readings:read", "alerts:read", "alerts:write"],
};

export function scopesFor(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role];
}

export function isRole(value: string): value is Role {
  return value === "admin" || value === "user";
}

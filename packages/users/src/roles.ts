/** What a token may do; one interceptor checks them per method. */
export const SCOPES = [
  "readings:read",
  // Corrections of clinical data (UpdateReadings): bounded, kept in the readings' history.
  "readings:correct",
  "readings:delete",
  // Which credential sent a reading and which receiver took it (ListReadings' provenance): admins.
  "readings:provenance",
  "devices:admin",
  "users:admin",
  "audit:read",
  "alerts:read",
  "alerts:write",
  "alerts:admin",
  "fleet:read",
  "fleet:admin",
  "procedures:read",
  "procedures:write",
  "maintenance:read",
  "maintenance:write",
] as const;

export type Scope = (typeof SCOPES)[number];
export type Role = "admin" | "user" | "clinician" | "technician";
export const ROLES: readonly Role[] = ["admin", "user", "clinician", "technician"];

/**
 * What every signed-in role may do: read readings (and their history), read, acknowledge and
 * silence alerts, read the fleet, procedures and maintenance.
 */
const READER: readonly Scope[] = [
  "readings:read",
  "alerts:read",
  "alerts:write",
  "fleet:read",
  "procedures:read",
  "maintenance:read",
];

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: SCOPES,
  // Correcting and deleting readings, devices, sites, users, the audit log, alert rules and
  // notification channels are for admins.
  user: READER,
  // Records procedures and their outcomes.
  clinician: [...READER, "procedures:write"],
  // Records maintenance.
  technician: [...READER, "maintenance:write"],
};

export function scopesFor(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role];
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

import { Role } from "@vigil/proto";

/** The roles an admin gives, in the order the page offers them (docs/api.md, Scopes). */
export const ROLE_CHOICES = [
  { value: Role.USER, label: "User", does: "reads readings, fleet, procedures and maintenance; acknowledges alerts" },
  { value: Role.CLINICIAN, label: "Clinician", does: "what a user does, and records procedures and outcomes" },
  { value: Role.TECHNICIAN, label: "Technician", does: "what a user does, and records maintenance" },
  { value: Role.ADMIN, label: "Admin", does: "everything, including devices, users and the audit log" },
] as const;

export function roleLabel(role: Role): string {
  return ROLE_CHOICES.find((r) => r.value === role)?.label ?? "Unknown";
}

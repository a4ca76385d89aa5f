import { readFileSync } from "node:fs";
import {
  COMPONENTS,
  type Component,
  componentRole,
  hasTimescale,
  migrateToLatest,
  setComponentPasswords,
  type VigilDatabase,
} from "@vigil/db";
import { UsageError } from "../usage-error.ts";

/** The variable holding a component role's password: DATABASE_ROLE_PASSWORD_RECEIVER, … (or …_FILE). */
export function rolePasswordVariable(component: Component): string {
  return `DATABASE_ROLE_PASSWORD_${component.toUpperCase()}`;
}

/**
 * `vigil migrate`: brings the schema to the latest version, grants each
 * component's role exactly what it needs, and gives the roles the
 * passwords found in DATABASE_ROLE_PASSWORD_<COMPONENT> (or the file named
 * by …_FILE, a mounted Secret). Passwords never appear in the output.
 */
export async function migrateCommand(
  database: VigilDatabase,
  env: Record<string, string | undefined> = {},
): Promise<unknown> {
  const outcome = await migrateToLatest(database.db);
  const passwords: Partial<Record<Component, string>> = {};
  for (const component of COMPONENTS) {
    const name = rolePasswordVariable(component);
    const file = env[`${name}_FILE`];
    let value = env[name];
    if (file) {
      try {
        value = readFileSync(file, "utf8").trim();
      } catch (err) {
        throw new UsageError(`cannot read ${name}_FILE ${file}: ${(err as Error).message}`);
      }
    }
    if (value !== undefined && value !== "") {
      if (value.length < 16) throw new UsageError(`${name} must be at least 16 characters`);
      passwords[component] = value;
    }
  }
  const passwordsSet = await setComponentPasswords(database.db, passwords);
  return {
    applied: outcome.applied,
    timescaledb: await hasTimescale(database.db),
    roles: Object.fromEntries(COMPONENTS.map((c) => [c, componentRole(c)])),
    passwordsSet,
    // false: the schema owner is a superuser (or PostgreSQL 16+ refused the membership), so the
    // maintainer runs with the owner's URL instead of vigil_maintainer.
    maintainerActsAsOwner: outcome.maintainerActsAsOwner,
  };
}

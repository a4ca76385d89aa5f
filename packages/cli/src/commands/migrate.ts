import { readFileSync } from "node:fs";
import { Command } from "@commander-js/extra-typings";
import type { Cli } from "../cli.ts";
import { UsageError } from "../usage-error.ts";

const COMPONENTS = ["receiver", "writer", "query", "lifecycle", "alerter"] as const;

/** The variable holding a component role's password: DATABASE_ROLE_PASSWORD_RECEIVER, … (or …_FILE). */
export function rolePasswordVariable(component: string): string {
  return `DATABASE_ROLE_PASSWORD_${component.toUpperCase()}`;
}

/**
 * `vigil migrate`: database-level work, on DATABASE_URL. Brings the schema
 * to the latest version, grants each component's role exactly what it
 * needs (the migrations do), and gives the roles the passwords found in
 * DATABASE_ROLE_PASSWORD_<COMPONENT> (or the file named by …_FILE, a
 * mounted Secret). Passwords never appear in the output.
 */
export function migrateCommand(cli: Cli) {
  return new Command("migrate")
    .description(
      "bring the database schema (DATABASE_URL) to this version's latest; create the components' roles (vigil_receiver, vigil_writer, vigil_query, vigil_lifecycle, vigil_alerter) with their grants and set their passwords from DATABASE_ROLE_PASSWORD_<COMPONENT> or …_FILE",
    )
    .action(async () => {
      const passwords = rolePasswords(cli.io.env);
      const database = await cli.database({ unmigrated: true });
      const { componentRole, hasTimescale, migrateToLatest, setComponentPasswords } = await import("@vigil/db");
      const outcome = await migrateToLatest(database.db);
      const passwordsSet = await setComponentPasswords(database.db, passwords);
      cli.output.object({
        applied: outcome.applied,
        timescaledb: await hasTimescale(database.db),
        roles: Object.fromEntries(COMPONENTS.map((c) => [c, componentRole(c)])),
        passwordsSet,
        // false: the schema owner is a superuser (or PostgreSQL 16+ refused the membership), so the
        // lifecycle runs with the owner's URL instead of vigil_lifecycle.
        lifecycleActsAsOwner: outcome.lifecycleActsAsOwner,
      });
    });
}

/** Role passwords from the environment, checked before anything connects. */
function rolePasswords(env: Record<string, string | undefined>): Partial<Record<(typeof COMPONENTS)[number], string>> {
  const passwords: Partial<Record<(typeof COMPONENTS)[number], string>> = {};
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
    if (value === undefined || value === "") continue;
    if (value.length < 16) throw new UsageError(`${name} must be at least 16 characters`);
    passwords[component] = value;
  }
  return passwords;
}

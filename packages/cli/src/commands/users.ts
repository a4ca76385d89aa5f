import { Command, Option } from "@commander-js/extra-typings";
import { Role, UserSchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { messageJson } from "../output.ts";

const ROLES = { admin: Role.ADMIN, user: Role.USER, clinician: Role.CLINICIAN, technician: Role.TECHNICIAN };

/** `vigil users …`: users over AuthService (creating users needs users:admin). */
export function usersCommand(cli: Cli) {
  const users = new Command("users").description("users of the API (admins)");

  users
    .command("create")
    .summary("create a user (password from stdin)")
    .description(
      "create a user; the password is read from stdin (typed without echo, or piped: printf '%s' \"$PASSWORD\" | vigil users create --username alice --role admin). The first admin comes from AUTH_BOOTSTRAP_ADMIN_USERNAME/PASSWORD on the query service.",
    )
    .requiredOption("--username <name>", "3 to 64 characters: letters, digits, '.', '_', '-', '@'")
    .addOption(
      new Option("--role <role>", "what the user may do (docs/api.md, Scopes)")
        .choices(["admin", "user", "clinician", "technician"] as const)
        .default("user"),
    )
    .action(async (o) => {
      const password = await cli.readSecret("password");
      const { user } = await (await cli.api()).auth.register(
        { username: o.username, password, role: ROLES[o.role] },
        cli.call,
      );
      cli.output.object(user ? messageJson(UserSchema, user) : {});
    });

  return users;
}

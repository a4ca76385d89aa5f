import { Command, Option } from "@commander-js/extra-typings";
import { ResetPasswordResponseSchema, Role, type User, UserSchema } from "@vigil/client";
import type { Cli } from "../cli.ts";
import { boolean, integer } from "../flags.ts";
import { type Column, messageJson } from "../output.ts";
import { collectPages } from "../paging.ts";
import { UsageError } from "../usage-error.ts";

const ROLES = { admin: Role.ADMIN, user: Role.USER, clinician: Role.CLINICIAN, technician: Role.TECHNICIAN };
const roleChoices = Object.keys(ROLES) as Array<keyof typeof ROLES>;

const userColumns: Column[] = ["username", "role", "createTime", "disableTime"];

/** `vigil users …`: people's accounts (UserService and Register; admins: scope users:admin). */
export function usersCommand(cli: Cli) {
  const users = new Command("users").description("people's accounts: create, list, disable, delete, roles (admins)");

  /** One output shape for every command that changes a user: the user. */
  const printUser = (user: User | undefined) => cli.output.object(user ? messageJson(UserSchema, user) : {});

  users
    .command("create")
    .summary("create a user (password from stdin)")
    .description(
      "create a user; the password is read from stdin (typed without echo, or piped: printf '%s' \"$PASSWORD\" | vigil users create --username alice --role admin). The first admin comes from AUTH_BOOTSTRAP_ADMIN_USERNAME/PASSWORD on the query service.",
    )
    .requiredOption("--username <name>", "3 to 64 characters: letters, digits, '.', '_', '-', '@'")
    .addOption(
      new Option("--role <role>", "what the user may do (docs/api.md, Scopes)").choices(roleChoices).default("user"),
    )
    .action(async (o) => {
      const password = await cli.readSecret("password");
      const { user } = await (await cli.api()).auth.register(
        { username: o.username, password, role: ROLES[o.role] },
        cli.call,
      );
      printUser(user);
    });

  users
    .command("list")
    .description("users by name with role, creation and disable time (deleted users are not listed)")
    .addOption(new Option("--role <role>", "only users with this role").choices(roleChoices))
    .addOption(new Option("--disabled <bool>", "only disabled (true) or enabled (false) users").argParser(boolean))
    .option("--limit <n>", "at most this many", integer(1, 100_000), 1000)
    .action(async (o) => {
      const vigil = await cli.api();
      const out = await collectPages<User>(o.limit, async (pageSize, pageToken) => {
        const page = await vigil.users.listUsers(
          {
            role: o.role === undefined ? undefined : ROLES[o.role],
            disabled: o.disabled,
            pageSize,
            pageToken,
          },
          cli.call,
        );
        return [page.users, page.nextPageToken];
      });
      cli.output.list(
        out.map((u) => messageJson(UserSchema, u)),
        userColumns,
      );
    });

  users
    .command("disable")
    .description("refuse the user's sign-ins and end every session and token they hold, on every replica, at once")
    .requiredOption("--username <name>", "who")
    .action(async (o) => {
      printUser((await (await cli.api()).users.disableUser({ username: o.username }, cli.call)).user);
    });

  users
    .command("enable")
    .description("let a disabled user sign in again (the sessions the disable ended stay ended)")
    .requiredOption("--username <name>", "who")
    .action(async (o) => {
      printUser((await (await cli.api()).users.enableUser({ username: o.username }, cli.call)).user);
    });

  users
    .command("delete")
    .summary("delete an account for good (its audit trail stays)")
    .description(
      "delete an account for good: it cannot sign in and is no longer listed; its entries in the audit log stay, and its username is never given to anyone else (so the audit log keeps naming one person). To stop someone for now, use disable.",
    )
    .requiredOption("--username <name>", "who")
    .action(async (o) => {
      await (await cli.api()).users.deleteUser({ username: o.username }, cli.call);
      cli.output.object({ username: o.username.trim().toLowerCase(), deleted: true });
    });

  users
    .command("set-role")
    .description("change what a user may do; their live tokens end at once and a refresh carries the new role")
    .requiredOption("--username <name>", "who")
    .addOption(
      new Option("--role <role>", "the new role (docs/api.md, Scopes)").choices(roleChoices).makeOptionMandatory(),
    )
    .action(async (o) => {
      printUser(
        (await (await cli.api()).users.setUserRole({ username: o.username, role: ROLES[o.role] }, cli.call)).user,
      );
    });

  users
    .command("reset-password")
    .summary("set a user's password, or generate one (printed once); ends their sessions")
    .description(
      "set a new password for a user who lost theirs and end every session they hold. With --generate the server makes a strong one and it is printed ONCE (hand it over, and have the user change it with `vigil password`); otherwise the new password is read from stdin (typed without echo, or piped).",
    )
    .requiredOption("--username <name>", "who")
    .option("--generate", "let the server generate the password")
    .action(async (o) => {
      const password = o.generate ? "" : await cli.readSecret("new password");
      const reset = await (await cli.api()).users.resetPassword({ username: o.username, password }, cli.call);
      const { generatedPassword, ...shown } = messageJson(ResetPasswordResponseSchema, reset);
      // The generated password only when there is one: shown here once.
      cli.output.object(generatedPassword ? { ...shown, generatedPassword } : shown);
    });

  return users;
}

/** `vigil password`: the signed-in user changes their own password. */
export function passwordCommand(cli: Cli) {
  return new Command("password")
    .summary("change your own password (ends your other sessions)")
    .description(
      "change the signed-in user's password: the current and the new password are read from stdin (typed without echo, or piped as two lines). Every other session and token of yours ends; this sign-in continues with new tokens.",
    )
    .action(async () => {
      const [current, next] = await readPasswordChange(cli);
      const vigil = await cli.api({ stored: true });
      const tokens = await vigil.changePassword(current, next);
      cli.output.object({
        username: tokens.user?.username ?? "",
        passwordChanged: true,
        otherSessionsEnded: true,
      });
    });
}

/** The current and the new password: two prompts on a terminal (the new one twice), or two piped lines. */
async function readPasswordChange(cli: Cli): Promise<[string, string]> {
  if (!cli.io.stdin.isTTY) {
    const text = await cli.readSecret("passwords");
    const newline = text.indexOf("\n");
    if (newline < 0) throw new UsageError("pipe two lines: the current password, then the new one");
    return [text.slice(0, newline).replace(/\r$/, ""), text.slice(newline + 1)];
  }
  const current = await cli.readSecret("current password");
  const next = await cli.readSecret("new password");
  if ((await cli.readSecret("new password again")) !== next) throw new UsageError("the new passwords differ");
  return [current, next];
}

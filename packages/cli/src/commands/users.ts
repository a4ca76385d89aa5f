import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { createUser, isRole } from "@vigil/users";
import { parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";

export const USERS_USAGE = `vigil users create --username NAME [--role admin|user|clinician|technician]
      creates a user; the password is read from stdin (typed without echo, or piped:
      printf '%s' "$PASSWORD" | vigil users create --username alice --role admin)`;

/** `vigil users …` */
export async function usersCommand(ctx: CliContext, args: string[], stdin: NodeJS.ReadStream): Promise<unknown> {
  const [action, ...rest] = args;
  if (action !== "create") throw new UsageError(`unknown users command ${action ?? "(none)"}\n${USERS_USAGE}`);
  const v = parseFlags(rest, { username: { type: "string" }, role: { type: "string" } }, USERS_USAGE);
  const role = v.role ?? "user";
  if (!isRole(role)) throw new UsageError(`--role must be admin, user, clinician or technician\n${USERS_USAGE}`);
  const password = await readPassword(stdin);
  const user = await createUser(
    ctx.database.db,
    { username: stringFlag(v.username, "username", USERS_USAGE), password, role },
    { actor: ctx.actor },
  );
  return { username: user.username, role: user.role, createdAt: user.createdAt };
}

/** The password from stdin: a prompt without echo on a terminal, everything piped otherwise. */
async function readPassword(stdin: NodeJS.ReadStream): Promise<string> {
  if (stdin.isTTY) {
    process.stderr.write("password: ");
    const silent = new Writable({ write: (_chunk, _enc, done) => done() });
    const rl = createInterface({ input: stdin, output: silent, terminal: true });
    const line = await new Promise<string>((resolve) => rl.once("line", resolve));
    rl.close();
    process.stderr.write("\n");
    return line;
  }
  let text = "";
  for await (const chunk of stdin) text += chunk;
  return text.replace(/\r?\n$/, "");
}

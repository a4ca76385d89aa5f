import { Command, CommanderError, type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { Code, ConnectError } from "@connectrpc/connect";
import packageJson from "../package.json" with { type: "json" };
import { type Cli, type CliIo, createCli, DEFAULT_SERVER } from "./cli.ts";
import { alertsCommand } from "./commands/alerts.ts";
import { archiveCommand } from "./commands/archive.ts";
import { auditCommand } from "./commands/audit.ts";
import { certsCommand } from "./commands/certs.ts";
import { checkCommand } from "./commands/check.ts";
import { deadLettersCommand } from "./commands/dead-letters.ts";
import { demoCommand } from "./commands/demo.ts";
import { devicesCommand } from "./commands/devices.ts";
import { fleetCommand } from "./commands/fleet.ts";
import { jwtKeysCommand } from "./commands/jwt-keys.ts";
import { loginCommand, logoutCommand } from "./commands/login.ts";
import { maintenanceCommand } from "./commands/maintenance.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { natsCommand } from "./commands/nats.ts";
import { proceduresCommand } from "./commands/procedures.ts";
import { sitesCommand } from "./commands/sites.ts";
import { passwordCommand, usersCommand } from "./commands/users.ts";
import { describeError } from "./describe-error.ts";
import { httpUrl } from "./flags.ts";
import { CliError, UsageError } from "./usage-error.ts";

/** Exit codes: 0 done, 1 the work failed, 2 the command line is wrong, 130 interrupted (Ctrl+C). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * The `vigil` command line. Each command group is one file under
 * `commands/` exporting a function that returns a commander Command, and
 * one `addCommand` line below.
 */
function buildProgram(cli: Cli, program: Command<[], { server?: string; json?: boolean }>): void {
  program.addCommand(loginCommand(cli));
  program.addCommand(logoutCommand(cli));
  program.addCommand(passwordCommand(cli));
  program.addCommand(devicesCommand(cli));
  program.addCommand(sitesCommand(cli));
  program.addCommand(fleetCommand(cli));
  program.addCommand(proceduresCommand(cli));
  program.addCommand(maintenanceCommand(cli));
  program.addCommand(deadLettersCommand(cli));
  program.addCommand(usersCommand(cli));
  program.addCommand(auditCommand(cli));
  program.addCommand(alertsCommand(cli));
  program.addCommand(checkCommand(cli));
  program.addCommand(migrateCommand(cli));
  program.addCommand(natsCommand(cli));
  program.addCommand(archiveCommand(cli));
  program.addCommand(demoCommand(cli));
  program.addCommand(jwtKeysCommand(cli));
  program.addCommand(certsCommand(cli));
}

/** Runs one command line and returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = new Command("vigil")
    .description(
      "Vigil's operator CLI. Most commands call the query API as the user of `vigil login`; migrate, archive restore and demo seed work on the database itself (DATABASE_URL).",
    )
    .version(packageJson.version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help for a command")
    .addOption(
      new Option(
        "--server <url>",
        `the query API (default: VIGIL_SERVER, the latest login's server, ${DEFAULT_SERVER})`,
      ).argParser(httpUrl),
    )
    .option("--json", "print JSON (the default when stdout is not a terminal)")
    .addHelpText(
      "after",
      `
Output: a table on a terminal, JSON otherwise or with --json; both use the API's field names.
Exit codes: 0 done, 1 failed, 2 wrong command line, 130 interrupted.
Environment: VIGIL_SERVER, VIGIL_TOKEN (an access token to use instead of the stored sign-in),
DATABASE_URL (migrate, archive restore, demo seed, audit verify/head), ARCHIVE_URL (archive, audit verify).`,
    );
  const cli = createCli(io, () => program.opts());
  buildProgram(cli, program);
  configure(program, io);

  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    return report(err, cli);
  } finally {
    await cli.close();
  }
}

/** Settings every command needs, applied to the whole tree (addCommand does not pass them on). */
function configure(command: CommandUnknownOpts, io: CliIo): void {
  command
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, "vigil: ")),
    });
  for (const sub of command.commands) configure(sub, io);
}

/** Prints what went wrong (never a stack trace) and picks the exit code. */
async function report(err: unknown, cli: Cli): Promise<number> {
  const { io } = cli;
  if (err instanceof CommanderError) {
    // Help and version asked for are answers (exit code 0); anything else commander refused, including
    // help shown because a command was missing, is a usage error it has already printed.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (io.signal.aborted) {
    io.stderr.write("vigil: interrupted\n");
    return EXIT.interrupted;
  }
  if (err instanceof UsageError) {
    io.stderr.write(`vigil: ${err.message}\n(add --help for usage)\n`);
    return EXIT.usage;
  }
  if (err instanceof CliError) {
    io.stderr.write(`vigil: ${err.message}\n`);
    return EXIT.failed;
  }
  if (err instanceof ConnectError) {
    const server = await cli.server().catch(() => "the server");
    io.stderr.write(`${describeError(err, server)}\n`);
    return err.code === Code.Canceled && io.signal.aborted ? EXIT.interrupted : EXIT.failed;
  }
  io.stderr.write(`vigil: failed: ${(err as Error)?.message ?? String(err)}\n`);
  return EXIT.failed;
}

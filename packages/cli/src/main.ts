#!/usr/bin/env node
import { openDatabase } from "@vigil/db";
import { DeviceError } from "@vigil/devices";
import { ReplayError } from "@vigil/ingest";
import { UserError } from "@vigil/users";
import { createCliContext } from "./cli-context.ts";
import { ARCHIVE_USAGE, archiveCommand } from "./commands/archive.ts";
import { AUDIT_USAGE, auditCommand } from "./commands/audit.ts";
import { CERTS_USAGE, certsCommand } from "./commands/certs.ts";
import { CHECK_USAGE, checkCommand } from "./commands/check.ts";
import { DEAD_LETTERS_USAGE, deadLettersCommand } from "./commands/dead-letters.ts";
import { DEVICES_USAGE, devicesCommand } from "./commands/devices.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { USERS_USAGE, usersCommand } from "./commands/users.ts";
import { UsageError } from "./usage-error.ts";

const USAGE = `usage: vigil <command>
  vigil migrate                apply database migrations
  ${DEVICES_USAGE}
  ${DEAD_LETTERS_USAGE}
  ${USERS_USAGE}
  ${CHECK_USAGE}
  ${ARCHIVE_USAGE}
  ${AUDIT_USAGE}
  ${CERTS_USAGE}

Environment: DATABASE_URL (default postgres://vigil@127.0.0.1:5432/vigil),
NATS_URL (default nats://127.0.0.1:4222) to tell receivers about device changes at once.
Output is JSON on stdout; errors go to stderr with exit code 1 (2 for usage errors).`;

const [command, ...args] = process.argv.slice(2);
if (!command || command === "--help" || command === "help") {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command ? 0 : 2);
}

const url = process.env.DATABASE_URL || "postgres://vigil@127.0.0.1:5432/vigil";
const warn = (message: string) => process.stderr.write(`vigil: warning: ${message}\n`);
let exitCode = 0;
let ctx: ReturnType<typeof createCliContext> | undefined;
try {
  if (command === "certs") {
    // Files on this machine only: no database.
    process.stdout.write(`${JSON.stringify(await certsCommand(args), null, 2)}\n`);
    process.exit(0);
  }
  if (command === "check") {
    // From the outside, as a device and a web client would: no database needed (helm test).
    const outcome = await checkCommand(args);
    process.stdout.write(`${JSON.stringify(outcome, null, 2)}\n`);
    process.exit(outcome.ok ? 0 : 1);
  }
  const database = await openDatabase(url, { applicationName: "vigil-cli", maxConnections: 2 });
  ctx = createCliContext(database, process.env, warn);
  let result: unknown;
  if (command === "migrate") result = await migrateCommand(database, process.env);
  else if (command === "devices") result = await devicesCommand(ctx, args);
  else if (command === "dead-letters") result = await deadLettersCommand(ctx, args, process.env);
  else if (command === "users") result = await usersCommand(ctx, args, process.stdin);
  else if (command === "archive") result = await archiveCommand(database, args, process.env);
  else if (command === "audit") {
    result = await auditCommand(database, args, process.env);
    // A broken chain is the answer, printed as JSON like any other, with exit code 1.
    if ((result as { ok?: boolean }).ok === false) exitCode = 1;
  } else throw new UsageError(`unknown command ${command}\n${USAGE}`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} catch (err) {
  const expected =
    err instanceof UsageError || err instanceof DeviceError || err instanceof ReplayError || err instanceof UserError;
  process.stderr.write(`vigil: ${expected ? (err as Error).message : `failed: ${(err as Error)?.message ?? err}`}\n`);
  exitCode = err instanceof UsageError ? 2 : 1;
} finally {
  await ctx?.close();
  await ctx?.database.close();
}
process.exit(exitCode);

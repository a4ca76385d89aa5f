#!/usr/bin/env node
import { openDatabase } from "@vigil/db";
import { DeviceError } from "@vigil/devices";
import { ARCHIVE_USAGE, archiveCommand } from "./commands/archive.ts";
import { DEVICES_USAGE, devicesCommand } from "./commands/devices.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { UsageError } from "./usage-error.ts";

const USAGE = `usage: vigil <command>
  migrate                 apply database migrations
  ${DEVICES_USAGE.split("\n").join("\n  ")}
  ${ARCHIVE_USAGE.split("\n").join("\n  ")}

Environment: DATABASE_URL (default postgres://vigil@127.0.0.1:5432/vigil).`;

const [command, ...args] = process.argv.slice(2);
if (!command || command === "--help" || command === "help") {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command ? 0 : 2);
}

const url = process.env.DATABASE_URL || "postgres://vigil@127.0.0.1:5432/vigil";
let exitCode = 0;
let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
try {
  database = await openDatabase(url, { applicationName: "vigil-cli", maxConnections: 2 });
  let result: unknown;
  if (command === "migrate") result = await migrateCommand(database);
  else if (command === "devices") result = await devicesCommand(database, args);
  else if (command === "archive") result = await archiveCommand(database, args, process.env);
  else throw new UsageError(`unknown command ${command}\n${USAGE}`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} catch (err) {
  const known =
    err instanceof UsageError ||
    err instanceof DeviceError ||
    (err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION";
  process.stderr.write(`vigil: ${known ? (err as Error).message : String((err as Error)?.message ?? err)}\n`);
  exitCode = err instanceof UsageError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
} finally {
  await database?.close();
}
process.exit(exitCode);

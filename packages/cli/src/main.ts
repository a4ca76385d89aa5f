#!/usr/bin/env node
import { userInfo } from "node:os";
import { join } from "node:path";
import envPaths from "env-paths";
import { runCli } from "./program.ts";

// The only file that touches the process: arguments, environment, streams, signals, exit code.
const interrupt = new AbortController();
process.on("SIGINT", () => {
  // The first Ctrl+C stops API calls and bulk jobs (which print what they finished); a second one exits now.
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
});

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupt.signal,
  osUser: userInfo().username,
  configDir: join(envPaths("vigil", { suffix: "" }).config),
});
process.exit(code);

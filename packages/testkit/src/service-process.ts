import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { exited, repoRoot, waitFor } from "./process-tools.ts";

/** A Vigil service running as its own Node process, as in production. */
export interface ServiceProcess {
  child: ChildProcess;
  /** Everything it printed, for diagnostics and summaries. */
  output(): string;
  /** Sends SIGTERM (graceful) and waits for exit. */
  stop(): Promise<void>;
  /** Sends SIGKILL (a crash) and waits for exit. */
  kill(): Promise<void>;
  exited: Promise<void>;
}

/**
 * Starts `node <entry>` (relative to the repository, or absolute: another
 * checkout's service) with the given environment and waits until a line of
 * its output matches `readyWhen`.
 */
export async function startServiceProcess(
  entry: string,
  env: Record<string, string>,
  readyWhen: RegExp,
  args: string[] = [],
): Promise<ServiceProcess> {
  // As in production: tracing is loaded before the app (it stays off without OTEL_* settings).
  const child = spawn(process.execPath, ["--import", "@vigil/telemetry/register", resolve(repoRoot, entry), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 4_000_000) output = output.slice(-2_000_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const done = exited(child);
  await waitFor(
    `${entry} to be ready`,
    () => {
      if (child.exitCode !== null) throw new Error(`${entry} exited early:\n${output.slice(-3000)}`);
      return readyWhen.test(output);
    },
    60_000,
  );
  return {
    child,
    output: () => output,
    exited: done,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await done;
    },
    async kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await done;
    },
  };
}

import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { buildConsoleIfStale } from "../scripts/build-if-stale.ts";

/**
 * Builds the console if its sources changed, then starts the real stack
 * (tests/stack.ts) in its own Node process and hands its addresses to the
 * tests through VIGIL_STACK. Returns the teardown that stops it.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  buildConsoleIfStale((line) => process.stdout.write(`${line}\n`));
  const child = spawn(process.execPath, [fileURLToPath(new URL("./stack.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" },
  });
  const line = await firstLine(child, 180_000);
  process.env.VIGIL_STACK = line;
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  };
}

const MARKER = "VIGIL_STACK ";

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the test stack did not start in time"));
    }, timeoutMs);
    // Other output (logs) passes through; the stack's own line carries a marker.
    lines.on("line", (line) => {
      if (!line.startsWith(MARKER)) {
        process.stdout.write(`${line}\n`);
        return;
      }
      clearTimeout(timer);
      resolve(line.slice(MARKER.length));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the test stack exited (${code}) before it was ready`));
    });
  });
}

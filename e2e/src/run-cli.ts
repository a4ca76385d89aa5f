import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";

/** The `vigil` command's entry point. */
export const cliMain = join(repoRoot, "packages/cli/src/main.ts");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (the CLI prints JSON when stdout is not a terminal). */
  out: unknown;
}

/** Runs `vigil …` as an operator would: its own process, its own config directory, stdin piped. */
export function runCli(args: string[], env: Record<string, string | undefined>, input = ""): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => {
      stdout += c;
    });
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      let out: unknown;
      try {
        out = JSON.parse(stdout);
      } catch {
        out = undefined;
      }
      resolve({ code, stdout, stderr, out });
    });
    child.stdin.end(input);
  });
}

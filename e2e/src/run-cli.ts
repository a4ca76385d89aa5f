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

/** Runs `vigil …` on a pseudo-terminal (`script`), as in an operator's shell; returns what the terminal showed. */
export function runCliOnTerminal(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; output: string }> {
  return runOnTerminal(
    [process.execPath, cliMain, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" "),
    env,
  );
}

/**
 * Runs a shell command line (a `vigil …` with redirections, say) under `script`, which gives it a
 * real pseudo-terminal as an operator's shell would; returns what the terminal showed.
 */
export function runOnTerminal(
  command: string,
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: { ...env, COLUMNS: "160", TERM: "xterm" } });
    let output = "";
    child.stdout.on("data", (c) => {
      output += c;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end();
  });
}

/**
 * Starts a long-running `vigil …` (such as `alerts watch`) and resolves with its stdout once a line
 * matches, then stops it.
 */
export function firstCliLine(
  args: string[],
  env: Record<string, string | undefined>,
  match: (line: string) => boolean,
  timeoutMs = 20_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no matching line within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.stdout.on("data", (c) => {
      stdout += c;
      const line = stdout.split("\n").find(match);
      if (line !== undefined) {
        clearTimeout(timer);
        child.kill();
        resolve(line);
      }
    });
    child.on("error", reject);
  });
}

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findExecutable, repoRoot } from "@vigil/testkit";

/** The k6 binary: on PATH or in .tools/bin (scripts/install-tools.sh k6). */
export function findK6(): string | undefined {
  return findExecutable("k6");
}

export interface K6Run {
  script: string;
  /** k6's exit code: 0 passed, 99 a threshold failed, anything else an error. */
  code: number;
  /** Path of the JSON summary handleSummary wrote. */
  summaryFile: string;
  /** The summary, when it was written. */
  summary: K6Summary | undefined;
  output: string;
}

/** The parts of k6's summary JSON read here. */
export interface K6Summary {
  metrics: Record<
    string,
    { type: string; values: Record<string, number>; thresholds?: Record<string, { ok: boolean }> }
  >;
  state: { testRunDurationMs: number };
}

/**
 * Runs `k6 run load-tests/<script>` with the settings as -e variables and
 * the summary written to `summaryDir/<name>.json`; resolves with the exit
 * code and the parsed summary. Output lines go to `echo` with a prefix.
 */
export function runK6(
  k6: string,
  script: string,
  settings: Record<string, string>,
  options: {
    summaryDir: string;
    name: string;
    echo?: (line: string) => void;
    /** CA bundle k6's HTTP client trusts instead of the system's (Go reads SSL_CERT_FILE). */
    caFile?: string;
  },
): Promise<K6Run> {
  const summaryFile = join(options.summaryDir, `${options.name}.json`);
  // No REST API server: runs side by side would fight over its port (6565).
  const args = ["run", "--no-color", "--quiet", "--address", ""];
  for (const [k, v] of Object.entries({ ...settings, SUMMARY_FILE: summaryFile })) args.push("-e", `${k}=${v}`);
  args.push(join(repoRoot, "load-tests", script));
  return new Promise((resolve, reject) => {
    const env = options.caFile ? { ...process.env, SSL_CERT_FILE: options.caFile } : process.env;
    const child = spawn(k6, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let partial = "";
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) options.echo?.(`[${options.name}] ${line}`);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (partial) options.echo?.(`[${options.name}] ${partial}`);
      const summary = existsSync(summaryFile)
        ? (JSON.parse(readFileSync(summaryFile, "utf8")) as K6Summary)
        : undefined;
      resolve({ script, code: code ?? (signal ? 128 : 1), summaryFile, summary, output });
    });
  });
}

/** The thresholds of a summary that failed, as "metric expr". */
export function failedThresholds(summary: K6Summary | undefined): string[] {
  if (!summary) return ["no summary written"];
  const failed: string[] = [];
  for (const [name, metric] of Object.entries(summary.metrics)) {
    for (const [expr, t] of Object.entries(metric.thresholds ?? {})) if (!t.ok) failed.push(`${name} ${expr}`);
  }
  return failed;
}

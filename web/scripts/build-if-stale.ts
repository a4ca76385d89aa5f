/**
 * Builds the console when web/dist is missing or older than its sources, so
 * `npm start` (and the browser tests and bench) serve the console on a fresh
 * clone without a separate step. A few seconds the first time; nothing when
 * the build is current. Exits non-zero when the build fails.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isBuildFresh, webDir } from "./source-hash.ts";

export function buildConsoleIfStale(print: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  if (isBuildFresh()) return;
  print("Building the console (web/dist)…");
  const vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  const started = Date.now();
  const result = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: webDir, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`building the console failed (exit ${result.status ?? result.signal})`);
  print(`Console built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
}

if (import.meta.main) {
  try {
    buildConsoleIfStale();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}

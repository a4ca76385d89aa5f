import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./process-tools.ts";

/** What scripts/ensure-test-deps.sh installs; the front doors name the ones they need. */
export type Tool =
  | "postgresql"
  | "nats-server"
  | "k6"
  | "versitygw"
  | "helm"
  | "kubeconform"
  | "kube-schemas"
  | "hadolint"
  | "timescaledb"
  | "telegraf";

/**
 * Installs what a front door (`npm run bench`, `load:smoke`, …) or a test setup needs on a
 * fresh clone, the way `npm test` does: scripts/ensure-test-deps.sh with the tools named. It
 * leaves tools already present at their pinned versions alone (a fraction of a second each)
 * and reports progress on stderr. Throws when a tool cannot be installed; a TimescaleDB
 * server that cannot be had here (no source archive) is not an error: check
 * `timescaledbBinDir()` afterwards.
 */
export function ensureTools(tools: readonly Tool[]): void {
  const script = join(repoRoot, "scripts/ensure-test-deps.sh");
  const result = spawnSync(script, tools, { stdio: ["ignore", "inherit", "inherit"] });
  if (result.status === 0 || result.status === 3) return;
  throw new Error(`${script} ${tools.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`);
}

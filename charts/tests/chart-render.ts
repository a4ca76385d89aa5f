import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { parseAllDocuments } from "yaml";

export const chartDir = join(repoRoot, "charts/vigil");
export const release = "rel";
export const namespace = "vigil";

/** The pinned tools in .tools/bin first (scripts/install-tools.sh), then PATH. */
export function findTool(name: string): string | undefined {
  const dirs = [join(repoRoot, ".tools/bin"), ...(process.env.PATH ?? "").split(delimiter)];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

export const helmBin = findTool("helm");

/** The CI values files: each is linted, rendered and checked. */
export const ciValuesFiles = readdirSync(join(chartDir, "ci"))
  .filter((f) => f.endsWith(".yaml"))
  .sort();

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): Run {
  if (!helmBin) throw new Error("helm is not installed");
  const r = spawnSync(helmBin, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `--set` and `-f` arguments for a values file from ci/ and extra settings. */
export function valuesArgs(ciFile?: string, set: Record<string, string> = {}): string[] {
  const args = ciFile ? ["-f", join(chartDir, "ci", ciFile)] : [];
  for (const [k, v] of Object.entries(set)) args.push("--set", `${k}=${v}`);
  return args;
}

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

/** `helm template` of the chart; throws with helm's message when it refuses the values. */
export function renderYaml(ciFile?: string, set: Record<string, string> = {}): string {
  const r = helm(["template", release, chartDir, "--namespace", namespace, ...valuesArgs(ciFile, set)]);
  if (r.status !== 0) throw new Error(r.stderr.trim());
  return r.stdout;
}

export function render(ciFile?: string, set: Record<string, string> = {}): Manifest[] {
  return parseAllDocuments(renderYaml(ciFile, set))
    .map((d) => {
      if (d.errors.length > 0) throw d.errors[0];
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

/** `helm template --is-upgrade`: what an upgrade of the release renders (hooks differ from an install). */
export function renderUpgrade(ciFile?: string, set: Record<string, string> = {}): Manifest[] {
  const r = helm(["template", release, chartDir, "--namespace", namespace, "--is-upgrade", ...valuesArgs(ciFile, set)]);
  if (r.status !== 0) throw new Error(r.stderr.trim());
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

/** The error helm prints when it refuses to render. */
export function renderError(ciFile?: string, set: Record<string, string> = {}): string {
  const r = helm(["template", release, chartDir, "--namespace", namespace, ...valuesArgs(ciFile, set)]);
  return r.status === 0 ? "" : r.stderr;
}

export function find(manifests: Manifest[], kind: string, component: string): Manifest | undefined {
  return manifests.find((m) => m.kind === kind && m.metadata.labels?.["app.kubernetes.io/component"] === component);
}

export function get(manifests: Manifest[], kind: string, component: string): Manifest {
  const m = find(manifests, kind, component);
  if (!m) throw new Error(`no ${kind} for ${component}`);
  return m;
}

/** The pod template of a workload (or the pod itself). */
// biome-ignore lint/suspicious/noExplicitAny: see Manifest.spec
export function podSpec(m: Manifest): any {
  return m.kind === "Pod" ? m.spec : m.spec.template.spec;
}

export function podLabels(m: Manifest): Record<string, string> {
  return m.kind === "Pod" ? (m.metadata.labels ?? {}) : m.spec.template.metadata.labels;
}

export const workloadKinds = new Set(["Deployment", "StatefulSet", "Job", "Pod"]);

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-chart-"));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

import { spawnSync } from "node:child_process";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { findTool, helmBin } from "./chart-render.ts";

const skaffold = findTool("skaffold");
if (!skaffold) {
  console.warn("skaffold checks skipped: skaffold is not installed (scripts/install-tools.sh skaffold; a long build)");
}

function run(args: string[]) {
  const r = spawnSync(skaffold!, args, {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, PATH: `${repoRoot}/.tools/bin:${process.env.PATH}`, SKAFFOLD_UPDATE_CHECK: "false" },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** skaffold.yaml parses, and each profile renders the chart with the six images it builds (no Docker needed). */
describe.skipIf(!skaffold || !helmBin)("skaffold.yaml", () => {
  it.each(["dev", "ci"])("profile %s renders the chart with the images skaffold builds", (profile) => {
    const diagnose = run(["diagnose", "--yaml-only", "-p", profile]);
    expect(diagnose.status, diagnose.stderr).toBe(0);
    const r = run(["render", "-p", profile, "--digest-source=tag", "--offline=true"]);
    expect(r.status, r.stderr).toBe(0);
    const images = new Set(
      parseAllDocuments(r.stdout)
        .map((d) => d.toJS())
        .filter((m) => m?.spec?.template?.spec || m?.kind === "Pod")
        .flatMap((m) => {
          const spec = m.kind === "Pod" ? m.spec : m.spec.template.spec;
          return [...(spec.initContainers ?? []), ...spec.containers].map((c: { image: string }) => c.image);
        }),
    );
    for (const name of [
      "vigil-receiver",
      "vigil-writer",
      "vigil-query",
      "vigil-lifecycle",
      "vigil-alerter",
      "vigil-simulator",
      "vigil-cli",
    ]) {
      expect(
        [...images].some((i) => i.startsWith(`${name}:`)),
        name,
      ).toBe(true);
    }
  });
});

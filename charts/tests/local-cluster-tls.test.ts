import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { chartDir, helm, helmBin, type Manifest } from "./chart-render.ts";

/**
 * scripts/k8s/tls.sh issues the local cluster's certificate by hand (the cluster has no
 * cert-manager): it must name what the chart's own Certificate names with the local values, the
 * bundled NATS's Service included, or the components' TLS connections to NATS fail verification.
 */
const tlsScript = join(repoRoot, "scripts/k8s/tls.sh");

function scriptNames(release: string, namespace: string): string[] {
  const r = spawnSync(tlsScript, ["--names", release, namespace], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split("\n");
}

function chartNames(release: string, namespace: string): string[] {
  const r = helm([
    "template",
    release,
    chartDir,
    "--namespace",
    namespace,
    "-f",
    join(chartDir, "ci/local-cluster-values.yaml"),
    "--set",
    "tls.existingSecret=",
    "--set",
    "tls.certManager.enabled=true",
    "--set",
    "tls.certManager.issuerRef.name=ca",
  ]);
  if (r.status !== 0) throw new Error(r.stderr);
  const cert = parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .find((m) => m?.kind === "Certificate");
  if (!cert) throw new Error("no Certificate rendered");
  return cert.spec.dnsNames;
}

describe.skipIf(!helmBin)("the local cluster's certificate (scripts/k8s/tls.sh)", () => {
  it.each([
    ["vigil", "vigil"],
    ["prod", "telemetry"],
    // Long enough that the chart cuts the names to a DNS label.
    ["a-long-release-name-that-the-chart-cuts-to-a-dns-lab", "ns"],
  ])("names what the chart's Certificate names (release %s, namespace %s)", (release, namespace) => {
    const names = scriptNames(release, namespace);
    expect(names.filter((n) => /-nats(\.|$)/.test(n))).toHaveLength(4);
    expect([...names].sort()).toEqual([...chartNames(release, namespace)].sort());
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";
import { get, helmBin, namespace, podSpec, render } from "./chart-render.ts";
import { syntaxErrors } from "./promql.ts";

/** The alerter in the chart: its workload, its Secret-only SMTP URL and the PrometheusRule about it. */
describe.skipIf(!helmBin)("alerter in the chart", () => {
  it("runs replicas with probes, an autoscaler and a disruption budget, SMTP from a Secret only", () => {
    const manifests = render("default-values.yaml", {
      "alerter.smtp.existingSecret": "vigil-smtp",
      "metrics.enabled": "true",
    });
    const d = get(manifests, "Deployment", "alerter");
    const c = podSpec(d).containers[0];
    expect(c.readinessProbe.httpGet.path).toBe("/readyz");
    expect(c.livenessProbe.httpGet.path).toBe("/healthz");
    const smtp = c.env.find((e: { name: string }) => e.name === "ALERTER_SMTP_URL");
    expect(smtp.value).toBeUndefined();
    expect(smtp.valueFrom.secretKeyRef).toEqual({ name: "vigil-smtp", key: "SMTP_URL" });
    expect(get(manifests, "HorizontalPodAutoscaler", "alerter").spec.minReplicas).toBe(2);
    expect(get(manifests, "PodDisruptionBudget", "alerter").spec.maxUnavailable).toBe(1);
    const policy = get(manifests, "NetworkPolicy", "alerter");
    const ports = policy.spec.egress.flatMap((r: { ports?: Array<{ port: number }> }) =>
      (r.ports ?? []).map((p) => p.port),
    );
    expect(ports).toEqual(expect.arrayContaining([443, 80, 587, 465, 25]));
  });

  it("alerts on the alerter itself with metrics it exposes, scoped to its Service", () => {
    const manifests = render("default-values.yaml", {
      "alerter.prometheusRule.enabled": "true",
      "metrics.enabled": "true",
    });
    const rule = get(manifests, "PrometheusRule", "alerter");
    // The ServiceMonitor copies the Service's labels onto its series, as the chart's other alerts select them.
    const labels = get(manifests, "Service", "alerter").metadata.labels as Record<string, string>;
    const selector = `namespace="${namespace}", app_kubernetes_io_instance="${labels["app.kubernetes.io/instance"]}", app_kubernetes_io_component="${labels["app.kubernetes.io/component"]}"`;
    const rules = rule.spec.groups[0].rules as Array<{ alert: string; expr: string }>;
    expect(rules.map((r) => r.alert)).toEqual([
      "VigilAlerterDown",
      "VigilAlerterLagging",
      "VigilAlerterPartitionsUnowned",
      "VigilAlerterGap",
      "VigilAlertDeliveriesFailing",
    ]);
    const telemetry = readFileSync(join(repoRoot, "docs/telemetry.md"), "utf8");
    const operations = readFileSync(join(repoRoot, "docs/operations.md"), "utf8");
    for (const r of rules) {
      expect(r.expr).toContain(selector);
      expect(syntaxErrors(r.expr), r.alert).toEqual([]);
      for (const m of r.expr.match(/\bvigil_[a-z_]+/g) ?? []) expect(telemetry, m).toContain(`\`${m}\``);
      expect(operations, r.alert).toContain(r.alert);
    }
  });
});

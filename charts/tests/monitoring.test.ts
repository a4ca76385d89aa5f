import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";
import { find, get, helmBin, type Manifest, namespace, release, render, renderError } from "./chart-render.ts";
import { syntaxErrors } from "./promql.ts";

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(join(repoRoot, "charts/vigil/dashboards/vigil.json"), "utf8")) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; query?: { query: string } }> };
};
const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** Label matchers of every selector of a Vigil metric: `vigil_x{a="b", …}`. */
function vigilSelectors(expr: string): string[] {
  return [...expr.matchAll(/\bvigil_[a-z0-9_]+\{([^}]*)\}/g)].map((m) => m[1]!);
}

describe("the Grafana dashboard on a default kube-prometheus-stack", () => {
  it("selects Vigil's series by the labels the ServiceMonitor puts on them, not kube-state-metrics' pod labels", () => {
    expect(JSON.stringify(dashboard)).not.toContain("kube_pod_labels");
    const selectors = exprs.flatMap(vigilSelectors);
    expect(selectors.length).toBeGreaterThan(25);
    for (const s of selectors) {
      expect(s).toContain('namespace="$namespace"');
      expect(s).toContain('app_kubernetes_io_instance="$release"');
    }
    const variables = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v.query?.query ?? ""]));
    expect(variables.release).toMatch(/app_kubernetes_io_part_of="vigil".*, app_kubernetes_io_instance\)$/);
  });

  it.skipIf(!helmBin)("gets those labels from the ServiceMonitor's targetLabels", () => {
    const monitor = get(
      render(undefined, {
        "database.existingSecret": "db",
        "tls.existingSecret": "tls",
        "metrics.enabled": "true",
        "metrics.serviceMonitor.enabled": "true",
      }),
      "ServiceMonitor",
      "metrics",
    );
    // Prometheus writes app.kubernetes.io/instance as app_kubernetes_io_instance.
    const labels = (monitor.spec.targetLabels as string[]).map((l) => l.replace(/[./-]/g, "_"));
    expect(labels).toEqual(expect.arrayContaining(["app_kubernetes_io_part_of", "app_kubernetes_io_instance"]));
  });

  it("uses $__rate_interval for rates, so panels work at any scrape interval", () => {
    const windows = exprs.flatMap((e) => [...e.matchAll(/\b(rate|irate|increase)\([^[]*\[([^\]]+)\]/g)]);
    expect(windows.length).toBeGreaterThan(20);
    // Rates follow the scrape interval; a count "over the last hour" says so in its window.
    for (const [, fn, window] of windows) expect(window, fn).toMatch(/^(\$__rate_interval|1h)$/);
    expect(windows.filter(([, fn]) => fn === "rate").every(([, , w]) => w === "$__rate_interval")).toBe(true);
  });

  it("parses as PromQL", () => {
    for (const e of exprs) expect(syntaxErrors(e), e).toEqual([]);
  });
});

describe.skipIf(!helmBin)("the PrometheusRule", () => {
  const rules = (set: Record<string, string> = {}) => {
    const manifests = render("production-values.yaml", set);
    const rule = get(manifests, "PrometheusRule", "metrics");
    return { rule, alerts: (rule.spec.groups as Array<{ rules: Rule[] }>).flatMap((g) => g.rules) };
  };

  it("ships the alerts docs/operations.md describes, each a valid expression on the release's series", () => {
    const { rule, alerts } = rules();
    expect(rule.metadata.labels?.release).toBe("kube-prometheus-stack");
    expect(alerts.map((a) => a.alert)).toEqual([
      "VigilBacklogHigh",
      "VigilIngestToStoredSlow",
      "VigilDeadLetters",
      "VigilPodNotReady",
      "VigilQueryErrors",
      "VigilLifecycleStalled",
    ]);
    const telemetry = read("docs/telemetry.md");
    const operations = read("docs/operations.md");
    for (const a of alerts) {
      expect(syntaxErrors(a.expr), a.alert).toEqual([]);
      for (const s of vigilSelectors(a.expr)) {
        expect(s, a.alert).toContain(`namespace="${namespace}", app_kubernetes_io_instance="${release}"`);
      }
      for (const [metric] of a.expr.matchAll(/\bvigil_[a-z0-9_]+/g)) {
        expect(telemetry, `${a.alert}: ${metric} is documented`).toContain(
          `\`${metric.replace(/_(bucket|count|sum)$/, "")}\``,
        );
      }
      expect(a.labels.team, a.alert).toBe("clinical-platform");
      expect(["warning", "critical"]).toContain(a.labels.severity);
      // The runbook names a section and a panel of docs/operations.md.
      const [, section, panel] = a.annotations.runbook!.match(/^docs\/operations\.md, ([^:]+)(?:: (.+))?$/)!;
      expect(operations, a.alert).toContain(section!);
      if (panel) expect(operations, a.alert).toContain(`| ${panel} |`);
    }
    // The thresholds of docs/operations.md's "Alerts worth setting".
    const byName = Object.fromEntries(alerts.map((a) => [a.alert, a]));
    expect(byName.VigilBacklogHigh).toMatchObject({ for: "10m", expr: expect.stringMatching(/> 10000$/) });
    expect(byName.VigilQueryErrors).toMatchObject({ for: "5m", expr: expect.stringMatching(/> 0\.01$/) });
    expect(byName.VigilPodNotReady?.for).toBe("5m");
    // Three lifecycle intervals of 60 s.
    expect(byName.VigilLifecycleStalled?.expr).toMatch(/> 180$/);
  });

  it("leaves out the lifecycle alert without a lifecycle service, and needs the metrics on", () => {
    const { alerts } = rules({ "lifecycle.enabled": "false" });
    expect(alerts.map((a) => a.alert)).not.toContain("VigilLifecycleStalled");
    expect(
      renderError(undefined, {
        "database.existingSecret": "db",
        "tls.existingSecret": "tls",
        "metrics.prometheusRule.enabled": "true",
      }),
    ).toMatch(/set metrics.enabled=true/);
  });
});

describe.skipIf(!helmBin)("the writers' KEDA ScaledObject", () => {
  it("scales writers on their JetStream consumer's lag, read from the bundled NATS's monitoring port", () => {
    const manifests = render("keda-values.yaml");
    const scaled = get(manifests, "ScaledObject", "writer");
    const writer = get(manifests, "Deployment", "writer");
    expect(scaled.spec.scaleTargetRef.name).toBe(writer.metadata.name);
    expect(writer.spec.replicas).toBeUndefined();
    expect(find(manifests, "HorizontalPodAutoscaler", "writer")).toBeUndefined();
    expect(scaled.spec).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 12 });
    const nats = get(manifests, "Service", "nats");
    const [lag, cpu] = scaled.spec.triggers as Array<{ type: string; metadata: Record<string, string> }>;
    expect(lag).toEqual({
      type: "nats-jetstream",
      metadata: {
        natsServerMonitoringEndpoint: `${nats.metadata.name}.${namespace}.svc:8222`,
        account: "$G",
        stream: "VIGIL_READINGS",
        consumer: "vigil-writer",
        lagThreshold: "500",
        activationLagThreshold: "0",
        useHttps: "false",
      },
    });
    expect(cpu).toMatchObject({ type: "cpu", metadata: { value: "70" } });
    // KEDA's operator may read the monitoring port, and only that.
    const policy = get(manifests, "NetworkPolicy", "nats") as Manifest;
    expect(policy.spec.ingress).toContainEqual({
      ports: [{ port: 8222, protocol: "TCP" }],
      from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "keda" } } }],
    });
  });

  it("refuses two autoscalers, and an external NATS without its monitoring endpoint", () => {
    const base = { "database.existingSecret": "db", "tls.existingSecret": "tls", "writer.keda.enabled": "true" };
    expect(renderError(undefined, base)).toMatch(/set writer.autoscaling.enabled=false/);
    expect(renderError(undefined, { ...base, "writer.autoscaling.enabled": "false" })).toMatch(
      /set writer.keda.natsMonitoringEndpoint/,
    );
    const external = render(undefined, {
      ...base,
      "writer.autoscaling.enabled": "false",
      "writer.keda.natsMonitoringEndpoint": "nats.nats.svc:8222",
    });
    expect(get(external, "ScaledObject", "writer").spec.triggers[0].metadata.natsServerMonitoringEndpoint).toBe(
      "nats.nats.svc:8222",
    );
  });
});

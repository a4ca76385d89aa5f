import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(readFileSync(join(repoRoot, "charts/vigil/dashboards/vigil.json"), "utf8")) as {
  panels: Panel[];
};
const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");

describe("the Grafana dashboard", () => {
  const panels = dashboard.panels.filter((p) => p.type !== "row");

  it("queries only metrics the services expose (as docs/telemetry.md lists them)", () => {
    const metricsSection =
      read("docs/telemetry.md")
        .split(/^## /m)
        .find((s) => s.startsWith("Metrics\n")) ?? "";
    const documented = new Set([...metricsSection.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]));
    const used = new Set(
      panels.flatMap((p) =>
        (p.targets ?? []).flatMap((t) =>
          [...t.expr.matchAll(/\bvigil_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, "")),
        ),
      ),
    );
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((m) => !documented.has(m))).toEqual([]);
  });

  it("covers ingest rate, ack latency, lag, errors and query latency", () => {
    const titles = panels.map((p) => p.title);
    for (const t of ["Ingest rate", "Ack latency", "Backlog", "Ingest errors", "Query latency p99"])
      expect(titles).toContain(t);
  });

  it("has every panel explained in docs/operations.md", () => {
    const operations = read("docs/operations.md");
    const pipelinePanels = panels.filter((p) => (p.targets ?? []).some((t) => t.expr.includes("vigil_")));
    expect(pipelinePanels.filter((p) => !operations.includes(`| ${p.title} |`)).map((p) => p.title)).toEqual([]);
  });
});

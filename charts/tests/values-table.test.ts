import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findTool } from "./chart-render.ts";
import { README, renderValuesTable, withValuesTable } from "./values-table.ts";

const helmDocs = findTool("helm-docs");
if (!helmDocs) console.warn("values table check skipped: scripts/install-tools.sh helm-docs (npm test installs it)");

describe.skipIf(!helmDocs)("the chart README's values table", () => {
  it("is what helm-docs makes of values.yaml now (npm run chart:docs)", () => {
    const readme = readFileSync(README, "utf8");
    const table = renderValuesTable(helmDocs!);
    expect(table.split("\n").length).toBeGreaterThan(200);
    expect(table).toContain("| query.auth.jwtKeysSecret | string |");
    expect(withValuesTable(readme, table), "stale: run npm run chart:docs").toBe(readme);
  });
});

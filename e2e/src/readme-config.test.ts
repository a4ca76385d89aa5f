import { readFileSync } from "node:fs";
import { join } from "node:path";
import { alerterEnv } from "@vigil/alerter";
import { lifecycleEnv } from "@vigil/lifecycle";
import { queryEnv } from "@vigil/query";
import { quickstartEnv } from "@vigil/quickstart";
import { receiverEnv } from "@vigil/receiver";
import { simulatorEnv } from "@vigil/simulator";
import { repoRoot } from "@vigil/testkit";
import { writerEnv } from "@vigil/writer";
import { describe, expect, it } from "vitest";

const schemas = { receiverEnv, writerEnv, queryEnv, simulatorEnv, quickstartEnv, lifecycleEnv, alerterEnv };

describe("README configuration table", () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  // OTEL_* are the OpenTelemetry SDK's own variables (read by @vigil/telemetry/register, not
  // by a service's schema), in a table of their own.
  const documented = new Map(
    [...readme.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \|/gm)]
      .filter((m) => !m[1]!.startsWith("OTEL_"))
      .map((m) => [m[1]!, m[2]!.trim()]),
  );

  it("documents every variable a service reads, and no other", () => {
    const read = new Set(Object.values(schemas).flatMap((s) => Object.keys(s.shape)));
    expect([...documented.keys()].sort()).toEqual([...read].sort());
  });

  it("states each default the code applies", () => {
    for (const schema of Object.values(schemas)) {
      for (const [name, field] of Object.entries(schema.shape)) {
        const parsed = (field as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(undefined);
        const value = parsed.success ? parsed.data : undefined;
        // An empty list (a switch that allows nothing by default) has no default to show.
        const empty = Array.isArray(value) && value.length === 0;
        if (value === undefined || empty || name === "DATABASE_URL" || name === "NATS_URL" || name === "LOG_LEVEL")
          continue;
        const shown = Array.isArray(value) ? value.join(",") : String(value);
        expect(documented.get(name), name).toContain(`\`${shown}\``);
      }
    }
  });
});

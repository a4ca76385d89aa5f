import { readFileSync } from "node:fs";
import { join } from "node:path";
import { alerterEnv } from "@vigil/alerter";
import { lifecycleEnv } from "@vigil/lifecycle";
import { queryEnv } from "@vigil/query";
import { receiverEnv } from "@vigil/receiver";
import { simulatorEnv } from "@vigil/simulator";
import { writerEnv } from "@vigil/writer";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { chartDir, ciValuesFiles, find, helmBin, type Manifest, podSpec, render } from "./chart-render.ts";

/**
 * The rule for service settings in the chart: every variable a service's zod
 * schema reads is set on its container by the chart, so every knob is in
 * values.yaml (the component's `config`, `jetstream.config`) or set by the
 * chart from other values (URLs, ports, wiring). A variable added to a schema
 * fails these tests until the chart sets it; values.schema.json then gives it
 * the same type and bounds as the service. Besides the schema's variables a
 * container may carry only the OpenTelemetry SDK's standard OTEL_* variables,
 * and the lifecycle service the AWS SDK's standard credential variables (from a
 * Secret only), which @vigil/archive leaves to the SDK's default chain.
 */
const services = {
  receiver: receiverEnv,
  writer: writerEnv,
  query: queryEnv,
  lifecycle: lifecycleEnv,
  alerter: alerterEnv,
  simulator: simulatorEnv,
} as const;

const awsCredentials = new Set(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]);
const sdkVariable = (component: string, name: string) =>
  name.startsWith("OTEL_") || (component === "lifecycle" && awsCredentials.has(name));

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };

function envOf(manifests: Manifest[], component: string): EnvVar[] | undefined {
  const d = find(manifests, "Deployment", component);
  if (!d) return undefined;
  return podSpec(d).containers.find((c: { name: string }) => c.name === component).env;
}

describe.skipIf(!helmBin)("chart ↔ service settings", () => {
  describe.each(ciValuesFiles)("with ci/%s", (file) => {
    const manifests = helmBin ? render(file) : [];

    for (const [component, schema] of Object.entries(services)) {
      it(`sets every variable ${component} reads, and nothing else`, (ctx) => {
        const env = envOf(manifests, component);
        if (!env) return ctx.skip(); // the simulator (or the lifecycle service) is off in this file
        const set = env.map((e) => e.name);
        expect(new Set(set).size, "a variable set twice").toBe(set.length);
        const chartOnly = set.filter((n) => !sdkVariable(component, n));
        expect(chartOnly.sort()).toEqual(Object.keys(schema.shape).sort());
        for (const e of env.filter((x) => awsCredentials.has(x.name))) {
          expect(e.value, `${e.name} comes from a Secret`).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef?.name, e.name).toBeTruthy();
        }
      });

      it(`gives ${component} values its configuration accepts`, (ctx) => {
        const env = envOf(manifests, component);
        if (!env) return ctx.skip();
        // Values from Secrets are not known here; a well-formed stand-in takes their place.
        const values = Object.fromEntries(
          env.map((e) => [
            e.name,
            e.value ?? (e.name === "NATS_URL" ? "nats://from-secret:4222" : "postgres://secret"),
          ]),
        );
        const parsed = (schema as z.ZodType).safeParse(values);
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      });
    }
  });

  it("gives the receiver and the writer the same JetStream settings (both create the stream)", () => {
    const manifests = render("production-values.yaml");
    const nats = (c: string) => envOf(manifests, c)!.filter((e) => e.name.startsWith("NATS_"));
    expect(nats("receiver")).toEqual(nats("writer"));
    expect(nats("alerter")).toEqual(nats("writer"));
  });

  it("configures retention once: readings.config reaches the receiver, the query service and the lifecycle service", () => {
    const manifests = render("default-values.yaml", { "readings.config.READINGS_RETENTION_MS": "63072000000" });
    for (const c of ["receiver", "query", "lifecycle"]) {
      const retention = envOf(manifests, c)!.find((e) => e.name === "READINGS_RETENTION_MS");
      expect(retention?.value, c).toBe("63072000000");
    }
  });
});

describe("values.schema.json ↔ service settings", () => {
  const schema = JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8"));
  const readings = schema.properties.readings.properties.config.properties;
  const configs: Array<[string, Record<string, JsonProp>, z.ZodObject]> = [
    ["jetstream.config", schema.properties.jetstream.properties.config.properties, receiverEnv],
    ["readings.config", readings, receiverEnv],
    ["receiver.config", schema.properties.receiver.properties.config.properties, receiverEnv],
    ["writer.config", schema.properties.writer.properties.config.properties, writerEnv],
    ["query.config", schema.properties.query.properties.config.properties, queryEnv],
    ["lifecycle.config", schema.properties.lifecycle.properties.config.properties, lifecycleEnv],
    ["alerter.config", schema.properties.alerter.properties.config.properties, alerterEnv],
    ["simulator.config", schema.properties.simulator.properties.config.properties, simulatorEnv],
  ];
  // The lifecycle service reads one of the shared reading rules: its bounds must be the lifecycle service's too.
  const shared: Array<[string, Record<string, JsonProp>, z.ZodObject]> = [
    ["readings.config (lifecycle)", { READINGS_RETENTION_MS: readings.READINGS_RETENTION_MS }, lifecycleEnv],
  ];
  type JsonProp = { type: string; minimum?: number; maximum?: number; enum?: string[]; pattern?: string };

  it.each([...configs, ...shared])("%s has the bounds and choices the service enforces", (_, props, service) => {
    for (const [name, prop] of Object.entries(props)) {
      const field = service.shape[name] as z.ZodType | undefined;
      expect(field, `${name} is read by the service`).toBeDefined();
      const accepts = (v: string) => field!.safeParse(v).success;
      if (prop.type === "integer") {
        expect(accepts(String(prop.minimum)), `${name} minimum`).toBe(true);
        expect(accepts(String(prop.maximum)), `${name} maximum`).toBe(true);
        expect(accepts(String(prop.minimum! - 1)), `${name} below minimum`).toBe(false);
        if (prop.maximum! < Number.MAX_SAFE_INTEGER) {
          expect(accepts(String(prop.maximum! + 1)), `${name} above maximum`).toBe(false);
        }
      } else if (prop.enum) {
        for (const v of prop.enum) expect(accepts(v), `${name}=${v}`).toBe(true);
        expect(accepts("not-an-option"), name).toBe(false);
      } else if (prop.pattern) {
        expect(accepts("not valid!"), `${name} pattern`).toBe(false);
      }
    }
  });

  it("lists every value of values.yaml's config maps as required", () => {
    for (const [path, props] of configs) {
      const at = path.split(".").reduce((o, k) => o.properties[k], schema);
      expect(at.required.sort(), path).toEqual(Object.keys(props).sort());
      expect(at.additionalProperties, path).toBe(false);
    }
  });
});

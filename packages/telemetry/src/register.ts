/**
 * Tracing bootstrap, loaded before any app code with
 * `node --import @vigil/telemetry/register …` (every service's start command
 * and image does this), so auto-instrumentation can hook pg and http as
 * they load.
 *
 * Configured only by the OpenTelemetry SDK's standard variables. Tracing
 * stays off unless OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set or OTEL_TRACES_EXPORTER names
 * an exporter ("console" prints spans); OTEL_SDK_DISABLED=true forces it
 * off. Without a parent, a trace is sampled at OTEL_TRACES_SAMPLER_ARG
 * (default 0.1, parentbased_traceidratio); with one, the parent decides.
 */
import { register } from "node:module";
import { serviceNameOf } from "./service-name.ts";
import { startTracing } from "./tracing.ts";

const env = process.env;
const wanted =
  env.OTEL_SDK_DISABLED !== "true" &&
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER);

if (wanted) {
  // ESM modules are instrumented through import-in-the-middle's loader hook.
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  env.OTEL_SERVICE_NAME ??= serviceNameOf(process.argv[1]);
  const sdk = startTracing(env);
  // runService (packages/runtime) calls this last on shutdown, after NATS and the database.
  (globalThis as Record<symbol, unknown>)[Symbol.for("vigil.telemetry.shutdown")] = () => sdk.shutdown();
}

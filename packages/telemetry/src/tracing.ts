import { getNodeAutoInstrumentations } from "@opentelemetry/auto-instrumentations-node";
import { NodeSDK } from "@opentelemetry/sdk-node";

/**
 * Requests without a span: the ops endpoints (scraping and probes are not worth one), and single
 * sign-on's callback, whose URL carries the provider's authorization code and state, which a span
 * would record (the code is useless without the PKCE verifier and spent at once, but stays out of
 * traces all the same).
 */
const QUIET_PATHS = new Set(["/metrics", "/healthz", "/readyz", "/auth/oidc/callback"]);

/**
 * Starts the OpenTelemetry SDK: OTLP export and sampling from the standard
 * OTEL_* variables, auto-instrumentation of pg and http (what Vigil's own
 * spans do not cover), W3C trace context propagation.
 */
export function startTracing(env: Record<string, string | undefined>): NodeSDK {
  env.OTEL_TRACES_SAMPLER ??= "parentbased_traceidratio";
  env.OTEL_TRACES_SAMPLER_ARG ??= "0.1";
  // Traces only: metrics are Prometheus (/metrics), logs are pino on stdout.
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  const sdk = new NodeSDK({
    instrumentations: [
      getNodeAutoInstrumentations({
        "@opentelemetry/instrumentation-pg": { enabled: true, requireParentSpan: true, ignoreConnectSpans: true },
        "@opentelemetry/instrumentation-http": {
          enabled: true,
          ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? "").split("?")[0] ?? ""),
        },
        // Vigil traces its gRPC streams and NATS messages itself, per batch: a span
        // per long-lived stream or per socket call would only be noise.
        "@opentelemetry/instrumentation-grpc": { enabled: false },
        "@opentelemetry/instrumentation-net": { enabled: false },
        "@opentelemetry/instrumentation-dns": { enabled: false },
        "@opentelemetry/instrumentation-fs": { enabled: false },
        // The logger adds trace_id and span_id itself (packages/runtime).
        "@opentelemetry/instrumentation-pino": { enabled: false },
        "@opentelemetry/instrumentation-undici": { enabled: false },
        "@opentelemetry/instrumentation-runtime-node": { enabled: false },
      }),
    ],
  });
  sdk.start();
  return sdk;
}

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Logger } from "@vigil/runtime";
import { LATENCY_BUCKETS_S, metricsRegistry, tracer } from "@vigil/telemetry";
import { Counter, Gauge, Histogram } from "prom-client";

let metrics:
  | { requests: Counter<"method" | "code">; seconds: Histogram<"method" | "code">; streams: Gauge<"method"> }
  | undefined;

function queryMetrics() {
  const registers = [metricsRegistry()];
  metrics ??= {
    requests: new Counter({
      name: "vigil_query_requests_total",
      help: "Calls answered, by method (Service/Method) and Connect code (ok, invalid_argument, …).",
      labelNames: ["method", "code"],
      registers,
    }),
    seconds: new Histogram({
      name: "vigil_query_request_duration_seconds",
      help: "Call duration by method and code; for streams, until the stream ends.",
      labelNames: ["method", "code"],
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    streams: new Gauge({
      name: "vigil_query_streams",
      help: "Server streams open (WatchReadings), by method.",
      labelNames: ["method"],
      registers,
    }),
  };
  return metrics;
}

/**
 * Traces and measures every Connect call, streams included (connect-es has
 * no official OpenTelemetry interceptor): one SERVER span per call named
 * `<package.Service>/<Method>` with the rpc.* attributes, and the
 * vigil_query_* metrics by method and code, and a debug line per call. Outermost, so it sees the code
 * the client gets.
 */
export function telemetryInterceptor(log: Logger): Interceptor {
  const m = queryMetrics();
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    const span = tracer.startSpan(method, {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
    });
    const finish = (err?: unknown) => {
      const code = err === undefined ? "ok" : codeName(ConnectError.from(err).code);
      if (err !== undefined) {
        span.setAttribute("rpc.connect_rpc.error_code", code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: ConnectError.from(err).rawMessage });
      }
      const seconds = (performance.now() - started) / 1000;
      m.requests.inc({ method, code });
      m.seconds.observe({ method, code }, seconds);
      // The access log, inside the call's span so the line carries its trace id.
      context.with(trace.setSpan(context.active(), span), () =>
        log.debug({ method, code, duration_ms: Math.round(seconds * 1000) }, "call"),
      );
      span.end();
    };
    const active = trace.setSpan(context.active(), span);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await context.with(active, () => next(req));
    } catch (err) {
      finish(err);
      throw err;
    }
    if (!res.stream) {
      finish();
      return res;
    }
    m.streams.inc({ method });
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
          finish();
        } catch (err) {
          finish(err);
          throw err;
        } finally {
          m.streams.dec({ method });
        }
      })(),
    };
  };
}

/**
 * Counts a call the request gate refused (no token, no scope, rate limit)
 * before it reached the interceptors; it has no span: nothing ran.
 */
export function recordRefusedCall(log: Logger, method: string, err: ConnectError): void {
  const m = queryMetrics();
  const code = codeName(err.code);
  m.requests.inc({ method, code });
  m.seconds.observe({ method, code }, 0);
  log.debug({ method, code, duration_ms: 0 }, "call");
}

function codeName(code: Code): string {
  return Code[code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}

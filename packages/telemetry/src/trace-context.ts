import { type Context, context, propagation, ROOT_CONTEXT, type SpanContext, trace } from "@opentelemetry/api";

/** The one tracer Vigil's own spans come from. */
export const tracer = trace.getTracer("vigil");

/** Trace context from a W3C traceparent (and tracestate), or the root context. */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent, ...(tracestate ? { tracestate } : {}) });
}

/** Trace context from message headers (NATS, HTTP), or the root context. */
export function contextFromHeaders(headers: Record<string, string> | undefined): Context {
  return headers ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
}

/** The W3C headers (traceparent, tracestate) that carry a context to the next hop. */
export function headersFromContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The span context a context carries, for span links; undefined when it carries none. */
export function spanContextOf(ctx: Context): SpanContext | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? sc : undefined;
}

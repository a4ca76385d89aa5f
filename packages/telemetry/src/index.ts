export { LATENCY_BUCKETS_S, metricsRegistry } from "./metrics-registry.ts";
export { handleOpsRequest, type OpsServer, type OpsServerOptions, startOpsServer } from "./ops-server.ts";
export {
  contextFromHeaders,
  contextFromTraceparent,
  headersFromContext,
  spanContextOf,
  tracer,
} from "./trace-context.ts";

export { createLifecycleApp, type LifecycleApp, type LifecycleDeps } from "./app.ts";
export { type LifecycleConfig, lifecycleEnv, lifecycleSettings, loadLifecycleConfig } from "./config.ts";
export { emptyMetrics, type LifecycleMetrics } from "./lifecycle-metrics.ts";
export { LIFECYCLE_LOCK, type LifecycleContext, type RunOptions, runLifecycle } from "./lifecycle-run.ts";

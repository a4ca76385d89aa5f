export { createMaintainerApp, type MaintainerApp, type MaintainerDeps } from "./app.ts";
export { lifecycleSettings, loadMaintainerConfig, type MaintainerConfig, maintainerEnv } from "./config.ts";
export { emptyMetrics, type MaintenanceMetrics } from "./maintenance-metrics.ts";
export { MAINTENANCE_LOCK, type MaintenanceContext, type RunOptions, runMaintenance } from "./maintenance-run.ts";

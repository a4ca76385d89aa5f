export { type AlerterApp, type AlerterDeps, createAlerterApp } from "./app.ts";
export { addressAllowed } from "./channels/webhook-sender.ts";
export { type AlerterConfig, alerterEnv, loadAlerterConfig } from "./config.ts";
export { anomalyDetector } from "./detectors/anomaly.ts";

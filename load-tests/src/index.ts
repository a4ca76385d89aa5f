export { failedThresholds, findK6, type K6Run, type K6Summary, runK6 } from "./k6.ts";
export { type LocalStack, type LocalStackOptions, seedReadings, startLocalStack } from "./local-stack.ts";
export { runSmoke, SMOKE_INGEST_VUS, type SmokeOptions, type SmokeResult } from "./smoke.ts";

export { type DeviceFeed, type DeviceFeedOptions, startDeviceFeed } from "./device-feed.ts";
export { runFleetToCompletion } from "./fleet-run.ts";
export { ADMIN_PASSWORD, type Pipeline, resetJetStream, startPipeline, USER_PASSWORD } from "./pipeline.ts";
export { openRawStream, type RawStream, testBatch } from "./raw-stream.ts";
export { ackedBatches, storedBatches } from "./stored-batches.ts";

export { runFleetToCompletion } from "./fleet-run.ts";
export { type Pipeline, resetJetStream, startPipeline } from "./pipeline.ts";
export { ackedBatches, storedBatches } from "./stored-batches.ts";

export { ProcedureError } from "./procedure-errors.ts";
export {
  type ActorContext,
  endProcedure,
  getProcedure,
  listProcedures,
  MAX_FUTURE_SKEW_MS,
  type NewProcedure,
  type Outcome,
  type OutcomeResult,
  outcomeProblem,
  PROCEDURE_TYPE_PATTERN,
  type ProcedureListOptions,
  type ProcedureState,
  type ProcedureView,
  recordOutcome,
  startProcedure,
} from "./procedure-store.ts";
export {
  procedureReadings,
  procedureSensorStats,
  RAW_WINDOW_MAX_MS,
  type SensorSummary,
  type TelemetryReading,
  type TelemetryWindow,
} from "./procedure-telemetry.ts";
export { pseudonymProblem } from "./pseudonym.ts";

export {
  DAY_MS,
  newPart,
  PART_SPECS,
  type PartLife,
  type PartSpec,
  partValue,
  robotComponents,
  trueCrossingMs,
  wearFraction,
} from "./parts.ts";
export {
  ProcedureMotion,
  procedurePhase,
  procedureTelemetry,
  type TelemetrySeries,
  telemetrySensors,
} from "./procedure-telemetry.ts";
export { codedId, gaussian, randomFor, seededRandom, seedOf, stableUuid, uniform } from "./random.ts";
export {
  type ConditionSeries,
  type MaintenanceEvent,
  type OutcomeResult,
  PROCEDURE_TYPES,
  type ProcedureEvent,
  type RobotHistory,
  type RobotSpec,
  robotHistory,
  siteSurgeons,
} from "./robot-history.ts";

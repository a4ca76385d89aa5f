export {
  type DeadLetterBounds,
  type DeadLetterFilter,
  type DeadLetterInput,
  type DeadLetterRow,
  getDeadLetter,
  listDeadLetters,
  markReplayed,
  recordDeadLetter,
} from "./dead-letters.ts";
export { type ReplayContext, ReplayError, replayDeadLetter } from "./replay.ts";
export { readingRulesEnv } from "./rules-config.ts";
export {
  type BatchLimits,
  type BatchVerdict,
  SENSOR_NAME_PATTERN,
  type Violation,
  validateBatch,
} from "./validate-batch.ts";

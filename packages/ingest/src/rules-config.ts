import { envInt } from "@vigil/runtime";

const DAY_MS = 86_400_000;

/**
 * Environment variables of the reading rules, shared by everything that
 * validates batches: receivers on arrival, the query service and the CLI on
 * dead-letter replay.
 */
export const readingRulesEnv = {
  /** How old a reading may be: the raw-data retention. */
  READINGS_RETENTION_MS: envInt(365 * DAY_MS, DAY_MS, 100 * 365 * DAY_MS),
  /** How far ahead of the server's clock a reading's time may be. */
  READINGS_MAX_FUTURE_SKEW_MS: envInt(5 * 60_000, 0, DAY_MS),
};

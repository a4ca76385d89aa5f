/** Milliseconds in a day and an hour, for the lifecycle settings below. */
export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/**
 * How long each tier of readings data lives, and when raw chunks are
 * compressed. Migration 0004 installs these defaults; the lifecycle service
 * reconciles the database's policies with its configuration on every start.
 */
export interface LifecycleSettings {
  /** Raw readings older than this are archived, then dropped (whole chunks/partitions). */
  readingsRetentionMs: number;
  /** Raw chunks older than this are compressed (TimescaleDB only). */
  compressAfterMs: number;
  /** 1-minute aggregates older than this are dropped. */
  aggregates1mRetentionMs: number;
  /** 1-hour aggregates older than this are dropped. */
  aggregates1hRetentionMs: number;
}

export const DEFAULT_LIFECYCLE: Readonly<LifecycleSettings> = Object.freeze({
  readingsRetentionMs: 365 * DAY_MS,
  compressAfterMs: 7 * DAY_MS,
  aggregates1mRetentionMs: 730 * DAY_MS,
  aggregates1hRetentionMs: 3650 * DAY_MS,
});

/**
 * How far back aggregate refreshes look for changed raw data: everything
 * still in the raw table except its oldest day, so an update or delete of
 * any stored reading is reflected after the next refresh, while a refresh
 * never covers a range whose raw rows were already dropped (which would
 * empty the aggregates there).
 */
export function refreshWindowMs(settings: Pick<LifecycleSettings, "readingsRetentionMs">): number {
  return Math.max(DAY_MS, settings.readingsRetentionMs - DAY_MS);
}

/** A millisecond count as a PostgreSQL interval literal ("86400 seconds"). */
export function intervalLiteral(ms: number): string {
  return `${Math.round(ms / 1000)} seconds`;
}

import { SENSOR_NAME_PATTERN } from "@vigil/ingest";
import {
  type DeleteReadingsRequest,
  type GetStatsRequest,
  type ListReadingsRequest,
  Order,
  type UpdateReadingsRequest,
  type WatchReadingsRequest,
} from "@vigil/proto";
import { parseDuration } from "@vigil/runtime";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize } from "./paging.ts";
import { isEmptyFilter, parseReadingFilter, type ReadingFilter } from "./reading-filter.ts";

/**
 * Every ReadingService request is checked here, before any work: a bad
 * request gets InvalidArgument naming its field. Handlers take the parsed
 * result and never validate by hand.
 */

export function parseListRequest(req: ListReadingsRequest) {
  return {
    filter: parseReadingFilter(req.filter),
    pageSize: checkedPageSize(req.pageSize),
    newestFirst: req.order === Order.NEWEST_FIRST,
  };
}

export interface ParsedChanges {
  sensor?: string;
  value?: number;
  timeMs?: number;
}

/** The times a stored reading may have: no older than retention, no further ahead than the clock skew allowed. */
export interface ReadingWindow {
  nowMs: number;
  maxAgeMs: number;
  maxFutureSkewMs: number;
}

export function parseUpdateRequest(
  req: UpdateReadingsRequest,
  window: ReadingWindow,
): { filter: ReadingFilter; changes: ParsedChanges } {
  const filter = requiredFilter(req.filter);
  const c = req.changes;
  const changes: ParsedChanges = {};
  if (c?.sensor !== undefined) {
    if (!SENSOR_NAME_PATTERN.test(c.sensor))
      throw new InvalidArgumentError("changes.sensor", `must match ${SENSOR_NAME_PATTERN.source}`);
    changes.sensor = c.sensor;
  }
  if (c?.value !== undefined) {
    if (!Number.isFinite(c.value)) throw new InvalidArgumentError("changes.value", "must be a finite number");
    changes.value = c.value;
  }
  if (c?.time) {
    if (c.time.nanos < 0 || c.time.nanos > 999_999_999)
      throw new InvalidArgumentError("changes.time", "nanos out of range");
    // Readings keep millisecond precision, like the devices send them: sub-millisecond digits are dropped.
    const ms = Number(c.time.seconds) * 1000 + Math.floor(c.time.nanos / 1_000_000);
    // The rule devices are held to: a correction cannot move a reading where no reading may be.
    const earliest = window.nowMs - window.maxAgeMs;
    const latest = window.nowMs + window.maxFutureSkewMs;
    if (!Number.isSafeInteger(ms) || ms < earliest || ms > latest) {
      throw new InvalidArgumentError(
        "changes.time",
        `must be between ${new Date(Math.max(0, earliest)).toISOString()} and ${new Date(latest).toISOString()}`,
      );
    }
    changes.timeMs = ms;
  }
  if (Object.keys(changes).length === 0) {
    throw new InvalidArgumentError("changes", "set at least one of sensor, value or time");
  }
  return { filter, changes };
}

export function parseDeleteRequest(req: DeleteReadingsRequest): { filter: ReadingFilter } {
  return { filter: requiredFilter(req.filter) };
}

export const MAX_BUCKETS = 10_000;
const DAY_MS = 86_400_000;

export function parseStatsRequest(req: GetStatsRequest, nowMs: number): { filter: ReadingFilter; bucketMs: number } {
  const filter = parseReadingFilter(req.filter);
  const bucketMs = parseDuration(req.bucket);
  if (bucketMs === undefined || bucketMs < 1_000) {
    throw new InvalidArgumentError("bucket", 'must be a duration of at least 1s, such as "1m", "1h", "1d" or "15m"');
  }
  // Without a range, the last day; with one end, a day from it.
  filter.endMs ??= filter.startMs !== undefined ? filter.startMs + DAY_MS : nowMs;
  filter.startMs ??= filter.endMs - DAY_MS;
  const buckets = Math.ceil((filter.endMs - filter.startMs) / bucketMs);
  if (buckets > MAX_BUCKETS) {
    throw new InvalidArgumentError(
      "bucket",
      `gives ${buckets} buckets for this time range; at most ${MAX_BUCKETS}: use a wider bucket`,
    );
  }
  return { filter, bucketMs };
}

export function parseWatchRequest(req: WatchReadingsRequest): { filter: ReadingFilter } {
  const filter = parseReadingFilter(req.filter);
  if (filter.startMs !== undefined || filter.endMs !== undefined) {
    throw new InvalidArgumentError("filter.start_time", "must be unset: a watch only sees new readings");
  }
  return { filter };
}

function requiredFilter(message: Parameters<typeof parseReadingFilter>[0]): ReadingFilter {
  const filter = parseReadingFilter(message);
  if (isEmptyFilter(filter)) {
    throw new InvalidArgumentError("filter", "set at least one field: changing every reading at once is refused");
  }
  return filter;
}

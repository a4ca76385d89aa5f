import { SENSOR_NAME_PATTERN } from "@vigil/ingest";
import {
  type DeleteReadingsRequest,
  type GetReadingHistoryRequest,
  type GetStatsRequest,
  type ListReadingsRequest,
  Order,
  type UndeleteReadingsRequest,
  type UpdateReadingsRequest,
  type WatchReadingsRequest,
} from "@vigil/proto";
import { parseDuration } from "@vigil/runtime";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize } from "./paging.ts";
import type { CorrectionScope } from "./reading-corrections.ts";
import { parseReadingFilter, type ReadingFilter } from "./reading-filter.ts";

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

/** Longest reason a correction may give. */
export const MAX_REASON_LENGTH = 500;

export interface ParsedCorrection {
  scope: CorrectionScope;
  reason: string;
}

/**
 * An update: one device and a time range (a correction is bounded), at
 * least one change. A new time must lie in the window stored readings may
 * have (the rule devices are held to: retention and clock skew).
 */
export function parseUpdateRequest(
  req: UpdateReadingsRequest,
  window: ReadingWindow,
): ParsedCorrection & { changes: ParsedChanges } {
  const parsed = parseCorrection(req);
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
  return { ...parsed, changes };
}

export function parseDeleteRequest(req: DeleteReadingsRequest): ParsedCorrection {
  return parseCorrection(req);
}

export function parseUndeleteRequest(req: UndeleteReadingsRequest): ParsedCorrection {
  return parseCorrection(req);
}

/**
 * What every correction must name: one device (code and number) and a
 * time range (start and end), so no call can touch every reading of every
 * device; a sensor is optional. The reason is bounded.
 */
function parseCorrection(req: { filter?: Parameters<typeof parseReadingFilter>[0]; reason: string }): ParsedCorrection {
  const filter = parseReadingFilter(req.filter);
  if (filter.deviceCode === undefined || filter.deviceNumber === undefined) {
    throw new InvalidArgumentError(
      req.filter?.deviceCode ? "filter.device_number" : "filter.device_code",
      "a correction names one device: set device_code and device_number",
    );
  }
  // Device metadata selects devices; a correction already names its one device, so a site, kind or
  // label there would be ignored: refused instead, so nobody believes it narrowed the change.
  if (filter.site !== undefined || filter.deviceKind !== undefined || filter.deviceLabels !== undefined) {
    throw new InvalidArgumentError(
      filter.site !== undefined
        ? "filter.site"
        : filter.deviceKind !== undefined
          ? "filter.device_kind"
          : "filter.device_labels",
      "a correction names one device (device_code, device_number): site, device_kind and device_labels do not apply",
    );
  }
  if (filter.startMs === undefined || filter.endMs === undefined) {
    throw new InvalidArgumentError(
      filter.startMs === undefined ? "filter.start_time" : "filter.end_time",
      "a correction names a time range: set start_time and end_time",
    );
  }
  if (req.reason.length > MAX_REASON_LENGTH) {
    throw new InvalidArgumentError("reason", `must be at most ${MAX_REASON_LENGTH} characters`);
  }
  return {
    scope: {
      deviceCode: filter.deviceCode,
      deviceNumber: filter.deviceNumber,
      ...(filter.sensor !== undefined ? { sensor: filter.sensor } : {}),
      startMs: filter.startMs,
      endMs: filter.endMs,
    },
    reason: req.reason,
  };
}

export type ParsedHistoryRequest =
  | { kind: "reading"; deviceCode: string; deviceNumber: number; sensor: string; timeUs: string }
  | { kind: "correction"; correctionId: number; pageSize: number };

/** Either a reading (device, sensor and time, all set) or a correction id, not both. */
export function parseHistoryRequest(req: GetReadingHistoryRequest): ParsedHistoryRequest {
  const readingFields = req.deviceCode !== "" || req.deviceNumber !== 0 || req.sensor !== "" || req.time !== undefined;
  if (req.correctionId !== 0n) {
    if (readingFields) {
      throw new InvalidArgumentError("correction_id", "set either correction_id or the reading (device, sensor, time)");
    }
    if (req.correctionId < 0n || req.correctionId > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new InvalidArgumentError("correction_id", "out of range");
    }
    return { kind: "correction", correctionId: Number(req.correctionId), pageSize: checkedPageSize(req.pageSize) };
  }
  const filter = parseReadingFilter({
    $typeName: "vigil.readings.v1.ReadingFilter",
    deviceCode: req.deviceCode,
    deviceNumber: req.deviceNumber === 0 ? undefined : req.deviceNumber,
    sensor: req.sensor,
    startTime: req.time,
    site: "",
    deviceKind: "",
    deviceLabels: {},
  });
  if (filter.deviceCode === undefined || filter.deviceNumber === undefined || filter.sensor === undefined) {
    throw new InvalidArgumentError("device_code", "name the reading: device_code, device_number, sensor and time");
  }
  if (!req.time || filter.startMs === undefined) {
    throw new InvalidArgumentError("time", "name the reading: device_code, device_number, sensor and time");
  }
  // Microseconds, as stored: exact for any time a reading can have.
  const timeUs = (req.time.seconds * 1_000_000n + BigInt(Math.floor(req.time.nanos / 1000))).toString();
  return {
    kind: "reading",
    deviceCode: filter.deviceCode,
    deviceNumber: filter.deviceNumber,
    sensor: filter.sensor,
    timeUs,
  };
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

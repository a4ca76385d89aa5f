import { timestampMs } from "@bufbuild/protobuf/wkt";
import { MAX_DEVICE_NUMBER } from "@vigil/devices";
import type { ReadingFilter as ReadingFilterMessage } from "@vigil/proto";
import { InvalidArgumentError } from "./errors.ts";

/** A validated filter; every field optional, combined with AND. */
export interface ReadingFilter {
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  /** Inclusive, milliseconds since the epoch. */
  startMs?: number;
  /** Exclusive, milliseconds since the epoch. */
  endMs?: number;
  /** Devices at this site. */
  site?: string;
  /** Devices of this kind. */
  deviceKind?: string;
  /** Devices carrying every one of these labels. */
  deviceLabels?: Record<string, string>;
}

const DEVICE_CODE = /^[A-Z]{1,16}$/;
const SENSOR = /^[a-z][a-z0-9_.]{0,63}$/;
/** Timestamps outside year 1 to 9999 are rejected by the Timestamp spec. */
const MIN_MS = -62_135_596_800_000;
const MAX_MS = 253_402_300_799_999;

/** Validates a filter message; throws InvalidArgumentError naming the field. */
export function parseReadingFilter(message: ReadingFilterMessage | undefined, field = "filter"): ReadingFilter {
  const filter: ReadingFilter = {};
  if (!message) return filter;
  if (message.deviceCode !== "") {
    if (!DEVICE_CODE.test(message.deviceCode)) {
      throw new InvalidArgumentError(`${field}.device_code`, "must be 1 to 16 capital letters");
    }
    filter.deviceCode = message.deviceCode;
  }
  if (message.deviceNumber !== undefined) {
    if (message.deviceNumber < 1 || message.deviceNumber > MAX_DEVICE_NUMBER) {
      throw new InvalidArgumentError(`${field}.device_number`, `must be from 1 to ${MAX_DEVICE_NUMBER}`);
    }
    filter.deviceNumber = message.deviceNumber;
  }
  if (message.sensor !== "") {
    if (!SENSOR.test(message.sensor)) {
      throw new InvalidArgumentError(`${field}.sensor`, `must match ${SENSOR.source}`);
    }
    filter.sensor = message.sensor;
  }
  if (message.site !== "") filter.site = boundedText(message.site, `${field}.site`);
  if (message.deviceKind !== "") filter.deviceKind = boundedText(message.deviceKind, `${field}.device_kind`);
  const labels = Object.entries(message.deviceLabels);
  if (labels.length > 0) {
    if (labels.length > MAX_LABELS) throw new InvalidArgumentError(`${field}.device_labels`, `at most ${MAX_LABELS}`);
    for (const [k, v] of labels) {
      boundedText(k, `${field}.device_labels`);
      boundedText(v, `${field}.device_labels[${JSON.stringify(k.slice(0, 64))}]`);
    }
    filter.deviceLabels = Object.fromEntries(labels);
  }
  if (message.startTime) filter.startMs = checkedMs(message.startTime, `${field}.start_time`);
  if (message.endTime) filter.endMs = checkedMs(message.endTime, `${field}.end_time`);
  if (filter.startMs !== undefined && filter.endMs !== undefined && filter.startMs > filter.endMs) {
    throw new InvalidArgumentError(`${field}.start_time`, "must not be after end_time");
  }
  return filter;
}

const MAX_LABELS = 64;

/** Device metadata values are at most 200 characters (as stored). */
function boundedText(value: string, field: string): string {
  if (value.length > 200) throw new InvalidArgumentError(field, "must be at most 200 characters");
  // NUL cannot be stored (the filter goes into the access log) and no name holds control characters.
  if (hasControlCharacter(value)) throw new InvalidArgumentError(field, "must not contain control characters");
  if (!value.isWellFormed()) throw new InvalidArgumentError(field, "must be valid Unicode (a lone surrogate)");
  return value;
}

/** True when no field of the filter is set. */
export function isEmptyFilter(filter: ReadingFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

export function checkedMs(ts: Parameters<typeof timestampMs>[0], field: string): number {
  if (ts.nanos < 0 || ts.nanos > 999_999_999) throw new InvalidArgumentError(field, "nanos out of range");
  const ms = timestampMs(ts);
  if (!Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) throw new InvalidArgumentError(field, "out of range");
  return ms;
}

/** C0 controls and DEL (a loop, not a regular expression of control characters, which the linter refuses). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

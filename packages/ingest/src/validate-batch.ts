import { type ColumnarBatch, RejectCode } from "@vigil/proto";

/** Sensor names: lower-case letter first, then letters, digits, '_' and '.', at most 64. */
export const SENSOR_NAME_PATTERN = /^[a-z][a-z0-9_.]{0,63}$/;

/** Bounds a batch is checked against. */
export interface BatchLimits {
  /** Most readings in one batch, across its series. */
  maxBatchReadings: number;
  /** Most series in one batch; unset: no bound (replay of batches a receiver let in). */
  maxBatchSeries?: number;
  /** How far ahead of the receiver's clock a reading may be. */
  maxFutureSkewMs: number;
  /** How far behind the receiver's clock a reading may be (the raw retention). */
  maxAgeMs: number;
}

export interface Violation {
  field: string;
  description: string;
}

export type BatchVerdict =
  | { ok: true; readings: number }
  | { ok: false; code: RejectCode; reason: string; violations: Violation[] };

/** At most this many violations are reported; the rest are summarised. */
const MAX_VIOLATIONS = 20;

/**
 * Checks a decoded batch against the wire contract. Pure: the caller passes
 * the clock. Stops collecting after MAX_VIOLATIONS to bound the work a
 * hostile batch can cause.
 */
export function validateBatch(batch: ColumnarBatch, limits: BatchLimits, nowMs: number): BatchVerdict {
  if (!Number.isSafeInteger(batch.seq) || batch.seq < 1) {
    return reject(RejectCode.BAD_SEQ, "seq must be at least 1", [{ field: "seq", description: `got ${batch.seq}` }]);
  }
  if (batch.series.length === 0) {
    return reject(RejectCode.INVALID_BATCH, "batch has no series", [
      { field: "series", description: "at least one series is required" },
    ]);
  }
  if (limits.maxBatchSeries !== undefined && batch.series.length > limits.maxBatchSeries) {
    return reject(
      RejectCode.TOO_MANY_SERIES,
      `batch has ${batch.series.length} series, the limit is ${limits.maxBatchSeries}`,
      [{ field: "series", description: `${batch.series.length} series > ${limits.maxBatchSeries}` }],
    );
  }
  let readings = 0;
  for (const s of batch.series) readings += s.values.length;
  if (readings > limits.maxBatchReadings) {
    return reject(RejectCode.TOO_LARGE, `batch has ${readings} readings, the limit is ${limits.maxBatchReadings}`, [
      { field: "series", description: `${readings} readings > ${limits.maxBatchReadings}` },
    ]);
  }

  const violations: Violation[] = [];
  const add = (field: string, description: string) => {
    if (violations.length < MAX_VIOLATIONS) violations.push({ field, description });
    return violations.length < MAX_VIOLATIONS;
  };
  const earliest = nowMs - limits.maxAgeMs;
  const latest = nowMs + limits.maxFutureSkewMs;
  const sensors = new Set<string>();

  series: for (let i = 0; i < batch.series.length; i++) {
    const s = batch.series[i]!;
    const at = `series[${i}]`;
    if (!SENSOR_NAME_PATTERN.test(s.sensor)) {
      if (
        !add(
          `${at}.sensor`,
          `sensor name ${JSON.stringify(s.sensor.slice(0, 80))} must match ${SENSOR_NAME_PATTERN.source}`,
        )
      )
        break;
    } else if (sensors.has(s.sensor)) {
      if (!add(`${at}.sensor`, `sensor ${s.sensor} appears more than once in the batch`)) break;
    }
    sensors.add(s.sensor);
    const times = s.times;
    const values = s.values;
    if (values.length === 0) {
      if (!add(at, "series is empty")) break;
      continue;
    }
    if (times.length !== values.length) {
      if (!add(at, `${times.length} times but ${values.length} values`)) break;
      continue;
    }
    for (let j = 0; j < values.length; j++) {
      const t = times[j]!;
      if (!Number.isFinite(values[j]!)) {
        if (!add(`${at}.values[${j}]`, "value is not a finite number")) break series;
      }
      if (!Number.isSafeInteger(t) || t > latest) {
        if (!add(`${at}.time_unix_ms[${j}]`, `time ${t} is more than ${limits.maxFutureSkewMs} ms in the future`))
          break series;
      } else if (t < earliest) {
        if (!add(`${at}.time_unix_ms[${j}]`, `time ${t} is older than the ${limits.maxAgeMs} ms retention`))
          break series;
      } else if (j > 0 && t <= times[j - 1]!) {
        if (!add(`${at}.time_unix_ms[${j}]`, "times must be strictly increasing within a series")) break series;
      }
    }
  }
  if (violations.length > 0) {
    const more = violations.length >= MAX_VIOLATIONS ? " (first 20 shown)" : "";
    return reject(
      RejectCode.INVALID_BATCH,
      `${violations[0]!.field}: ${violations[0]!.description}${more}`,
      violations,
    );
  }
  return { ok: true, readings };
}

function reject(code: RejectCode, reason: string, violations: Violation[]): BatchVerdict {
  return { ok: false, code, reason, violations };
}

/**
 * What the device page shows: a live window ending now, or a fixed range;
 * and how to fetch it: raw readings when few enough, aggregates (GetStats
 * buckets) otherwise. Pure functions, unit-tested.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export type View = { live: true; spanMs: number } | { live: false; startMs: number; endMs: number };

export const PRESETS: ReadonlyArray<{ label: string; spanMs: number }> = [
  { label: "5 min", spanMs: 5 * MINUTE },
  { label: "1 h", spanMs: HOUR },
  { label: "6 h", spanMs: 6 * HOUR },
  { label: "24 h", spanMs: DAY },
  { label: "7 days", spanMs: 7 * DAY },
  { label: "30 days", spanMs: 30 * DAY },
  { label: "90 days", spanMs: 90 * DAY },
  { label: "1 year", spanMs: 365 * DAY },
];

/** Shortest and longest span one can zoom to. */
export const MIN_SPAN_MS = 30 * SECOND;
export const MAX_SPAN_MS = 2 * 365 * DAY;

export function rangeOf(view: View, nowMs: number): { startMs: number; endMs: number } {
  return view.live ? { startMs: nowMs - view.spanMs, endMs: nowMs } : { startMs: view.startMs, endMs: view.endMs };
}

export function spanOf(view: View): number {
  return view.live ? view.spanMs : view.endMs - view.startMs;
}

/** A fixed range clamped to sensible spans; a range reaching the present becomes live. */
export function zoomTo(startMs: number, endMs: number, nowMs: number): View {
  let span = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, endMs - startMs));
  const mid = (startMs + endMs) / 2;
  let start = Math.round(mid - span / 2);
  let end = start + span;
  if (end >= nowMs - SECOND) {
    span = Math.min(span, MAX_SPAN_MS);
    return { live: true, spanMs: span };
  }
  if (start < 0) {
    start = 0;
    end = span;
  }
  return { live: false, startMs: start, endMs: end };
}

/** The same centre, `factor` times the span (2: zoom out, 0.5: zoom in). */
export function zoomBy(view: View, factor: number, nowMs: number): View {
  const { startMs, endMs } = rangeOf(view, nowMs);
  const span = (endMs - startMs) * factor;
  if (view.live) return { live: true, spanMs: Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, span)) };
  const mid = (startMs + endMs) / 2;
  return zoomTo(mid - span / 2, mid + span / 2, nowMs);
}

/** Bucket widths a chart uses, each a whole number of seconds; minute and hour multiples let the API use its aggregates. */
const BUCKETS = [
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
];

/** Points a chart aims for across its width. */
export const TARGET_POINTS = 600;

/**
 * The narrowest bucket giving at most about TARGET_POINTS per chart. Spans
 * over 7 days get whole hours, so the API reads its hourly aggregates
 * instead of minute ones.
 */
export function chooseBucketMs(spanMs: number, targetPoints = TARGET_POINTS): number {
  const wanted = spanMs / targetPoints;
  const minimum = spanMs > 7 * DAY ? HOUR : SECOND;
  const fit = BUCKETS.find((b) => b >= wanted && b >= minimum);
  if (fit !== undefined) return fit;
  return Math.ceil(wanted / DAY) * DAY;
}

/** The API's bucket syntax: "<n>s". */
export function bucketText(bucketMs: number): string {
  return `${Math.round(bucketMs / SECOND)}s`;
}

/** One bucket wide enough for any range (epoch-aligned: 1970 to 2084), for figures over a whole range. */
export const WHOLE_RANGE_BUCKET = "1000000h";

/** Readings per sensor and in all up to which a chart shows raw readings. */
export const RAW_MAX_PER_SENSOR = 2_500;
export const RAW_MAX_TOTAL = 25_000;

/** Raw readings when there are few enough to fetch and draw; aggregates otherwise. */
export function chooseSource(countsPerSensor: readonly number[]): "raw" | "buckets" {
  const total = countsPerSensor.reduce((a, b) => a + b, 0);
  const most = Math.max(0, ...countsPerSensor);
  return most <= RAW_MAX_PER_SENSOR && total <= RAW_MAX_TOTAL ? "raw" : "buckets";
}

/** "1 min averages" for a bucket width. */
export function describeBucket(bucketMs: number): string {
  if (bucketMs < MINUTE) return `${bucketMs / SECOND} s`;
  if (bucketMs < HOUR) return `${bucketMs / MINUTE} min`;
  if (bucketMs < DAY) return `${bucketMs / HOUR} h`;
  return `${bucketMs / DAY} day`;
}

import { theilSen } from "./theil-sen.ts";

export const DAY_MS = 86_400_000;

/** What a forecast says about a component. */
export type ForecastStatus = "ok" | "due" | "overdue" | "stable" | "insufficient_data";

/** One point of a condition series: a day's mean value. */
export interface ConditionPoint {
  /** Middle of the bin, ms since the epoch. */
  timeMs: number;
  value: number;
}

export interface ForecastOptions {
  nowMs: number;
  /** A crossing sooner than now + horizon is "due". */
  horizonMs: number;
  threshold: number;
  failsAbove: boolean;
  /** Fewest points to fit a trend. */
  minPoints?: number;
}

export interface ComponentForecastResult {
  status: ForecastStatus;
  /** The fitted value at nowMs; undefined without a fit. */
  currentValue?: number;
  slopePerDay?: number;
  crossingMs?: number;
  /** 90 % interval of the crossing, from the slope's interval. */
  crossingEarliestMs?: number;
  /** Undefined when the slower slope never reaches the threshold. */
  crossingLatestMs?: number;
  points: number;
  dataStartMs?: number;
  dataEndMs?: number;
}

export const DEFAULT_MIN_POINTS = 7;
/** A crossing further away than this is no trend at all (and beyond what timestamps should carry). */
const FOREVER_MS = 100 * 365 * DAY_MS;

/**
 * Forecasts when a component's condition crosses its threshold, from its
 * daily points since the last reset: a Theil–Sen line through them (robust
 * to outlying days and to missing ones), extrapolated to the threshold.
 *
 * - insufficient_data: fewer than `minPoints` points.
 * - overdue: the fitted value now is already past the threshold.
 * - stable: the slope's 90 % interval reaches zero or points away from the
 *   threshold — no trend towards failure can be told from the noise.
 *   So is a crossing more than a hundred years away.
 * - due: the crossing comes before now + horizon; ok: after it.
 *
 * The crossing is where the fitted line meets the threshold; its interval
 * pivots the line about its value at the median time of the points, with
 * the slope's interval ends.
 */
export function forecastComponent(
  points: readonly ConditionPoint[],
  options: ForecastOptions,
): ComponentForecastResult {
  const n = points.length;
  const minPoints = options.minPoints ?? DEFAULT_MIN_POINTS;
  const dataStartMs = n > 0 ? points[0]!.timeMs : undefined;
  const dataEndMs = n > 0 ? points[n - 1]!.timeMs : undefined;
  if (n < minPoints) return { status: "insufficient_data", points: n, dataStartMs, dataEndMs };
  // Days relative to now keep the numbers small (no precision lost to epoch-sized x).
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = (points[i]!.timeMs - options.nowMs) / DAY_MS;
    ys[i] = points[i]!.value;
  }
  const fit = theilSen(xs, ys);
  if (!fit) return { status: "insufficient_data", points: n, dataStartMs, dataEndMs };
  const sign = options.failsAbove ? 1 : -1;
  const currentValue = fit.intercept; // x = 0 is now
  const base = { currentValue, slopePerDay: fit.slope, points: n, dataStartMs, dataEndMs };
  if (sign * (currentValue - options.threshold) >= 0) {
    // Past it: when it crossed, by the fitted line (if the line rises towards it).
    const crossingMs = sign * fit.slope > 0 ? crossingAt(0, currentValue, fit.slope, options) : options.nowMs;
    return { ...base, status: "overdue", crossingMs, crossingEarliestMs: crossingMs, crossingLatestMs: crossingMs };
  }
  // The slope interval's end nearest zero, towards failure.
  const slow = sign > 0 ? fit.slopeLow : fit.slopeHigh;
  const fast = sign > 0 ? fit.slopeHigh : fit.slopeLow;
  if (!(sign * slow > 0)) return { ...base, status: "stable" };
  const crossingMs = crossingAt(0, currentValue, fit.slope, options);
  if (!(sign * fit.slope > 0) || crossingMs > options.nowMs + FOREVER_MS) return { ...base, status: "stable" };
  // The pivot: the fitted value at the points' median time.
  const pivotX = median(xs);
  const pivotY = fit.intercept + fit.slope * pivotX;
  const earliest = Number.isFinite(fast) ? crossingAt(pivotX, pivotY, fast, options) : options.nowMs;
  const latest = crossingAt(pivotX, pivotY, slow, options);
  return {
    ...base,
    status: crossingMs <= options.nowMs + options.horizonMs ? "due" : "ok",
    crossingMs,
    crossingEarliestMs: Math.max(options.nowMs, Math.min(earliest, crossingMs)),
    crossingLatestMs: latest > options.nowMs + FOREVER_MS ? undefined : Math.max(latest, crossingMs),
  };
}

/** When the line through (x0 days, y0) with `slope` per day meets the threshold. */
function crossingAt(x0: number, y0: number, slope: number, options: ForecastOptions): number {
  return options.nowMs + (x0 + (options.threshold - y0) / slope) * DAY_MS;
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

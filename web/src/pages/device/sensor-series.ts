/**
 * One sensor's points for a chart, raw readings or time buckets, kept
 * sorted by time. Live readings are merged in as they arrive: appended in
 * the common case, inserted in order when late, replacing a reading with the
 * same time (a reading seen both in the history and on the live stream).
 * In bucket mode a live reading is folded into its bucket (count, sum, min,
 * max), so the chart stays in one representation.
 *
 * Gaps are drawn as gaps: plotData() puts a null between two points further
 * apart than a bucket (aggregates) or than several times the usual spacing
 * (raw), so a line never bridges time without readings.
 */

/** Raw points further apart than this many typical spacings are a gap… */
const GAP_FACTOR = 5;
/** …and never closer than this. */
const MIN_GAP_MS = 2_000;

export interface BucketRow {
  startMs: number;
  count: number;
  avg: number;
  min: number;
  max: number;
}

/** uPlot's columns: x in seconds, then the line, then the band (min, max) when aggregated. */
export type PlotData = [number[], (number | null)[], ...(number | null)[][]];

export class SensorSeries {
  /** Bumped on every change, so a chart redraws only when something changed. */
  version = 0;
  private times: number[] = [];
  // Raw mode: values. Bucket mode: sums and counts (avg = sum / count), min and max.
  private values: number[] = [];
  private counts: number[] = [];
  private mins: number[] = [];
  private maxs: number[] = [];
  private bucketMs = 0;

  readonly sensor: string;

  constructor(sensor: string) {
    this.sensor = sensor;
  }

  get mode(): "raw" | "buckets" {
    return this.bucketMs > 0 ? "buckets" : "raw";
  }

  get length(): number {
    return this.times.length;
  }

  /** Time and value (the average, for buckets) of the newest point. */
  get latest(): { timeMs: number; value: number } | undefined {
    const i = this.times.length - 1;
    return i < 0 ? undefined : { timeMs: this.times[i]!, value: this.valueAt(i) };
  }

  /** Replaces the contents with raw readings (sorted by time). */
  setRaw(times: number[], values: number[]): void {
    this.bucketMs = 0;
    this.times = times;
    this.values = values;
    this.counts = [];
    this.mins = [];
    this.maxs = [];
    this.version++;
  }

  /** Replaces the contents with buckets of this width (sorted by start). */
  setBuckets(bucketMs: number, rows: readonly BucketRow[]): void {
    this.bucketMs = bucketMs;
    this.times = rows.map((r) => r.startMs);
    this.counts = rows.map((r) => r.count);
    this.values = rows.map((r) => r.avg * r.count);
    this.mins = rows.map((r) => r.min);
    this.maxs = rows.map((r) => r.max);
    this.version++;
  }

  /** Merges one live reading. */
  add(timeMs: number, value: number): void {
    if (this.bucketMs > 0) this.fold(timeMs, value);
    else this.insert(timeMs, value);
    this.version++;
  }

  /** Drops points before startMs (a live window moving on); keeps the bucket that contains it. */
  trimBefore(startMs: number): void {
    const from = this.bucketMs > 0 ? startMs - this.bucketMs : startMs;
    let n = 0;
    while (n < this.times.length && this.times[n]! < from) n++;
    if (n === 0) return;
    this.times.splice(0, n);
    this.values.splice(0, n);
    if (this.bucketMs > 0) {
      this.counts.splice(0, n);
      this.mins.splice(0, n);
      this.maxs.splice(0, n);
    }
    this.version++;
  }

  /** Columns for uPlot, with nulls at gaps. */
  plotData(): PlotData {
    const n = this.times.length;
    const gap = this.bucketMs > 0 ? this.bucketMs * 1.5 : this.rawGapMs();
    const xs: number[] = [];
    const ys: (number | null)[] = [];
    const lo: (number | null)[] = [];
    const hi: (number | null)[] = [];
    const buckets = this.bucketMs > 0;
    for (let i = 0; i < n; i++) {
      const t = this.times[i]!;
      if (i > 0 && t - this.times[i - 1]! > gap) {
        xs.push((this.times[i - 1]! + (buckets ? this.bucketMs : 1)) / 1000);
        ys.push(null);
        if (buckets) {
          lo.push(null);
          hi.push(null);
        }
      }
      xs.push(t / 1000);
      ys.push(this.valueAt(i));
      if (buckets) {
        lo.push(this.mins[i]!);
        hi.push(this.maxs[i]!);
      }
    }
    return buckets ? [xs, ys, lo, hi] : [xs, ys];
  }

  /** Points drawn (without gap markers), for tests and the chart's label. */
  get count(): number {
    return this.times.length;
  }

  /** Smallest and largest value shown (band included). */
  extent(): { min: number; max: number } | undefined {
    if (this.times.length === 0) return undefined;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.times.length; i++) {
      const a = this.bucketMs > 0 ? this.mins[i]! : this.values[i]!;
      const b = this.bucketMs > 0 ? this.maxs[i]! : this.values[i]!;
      if (a < min) min = a;
      if (b > max) max = b;
    }
    return { min, max };
  }

  private valueAt(i: number): number {
    return this.bucketMs > 0 ? this.values[i]! / this.counts[i]! : this.values[i]!;
  }

  private insert(timeMs: number, value: number): void {
    const n = this.times.length;
    if (n === 0 || timeMs > this.times[n - 1]!) {
      this.times.push(timeMs);
      this.values.push(value);
      return;
    }
    const i = lowerBound(this.times, timeMs);
    if (this.times[i] === timeMs) {
      this.values[i] = value;
      return;
    }
    this.times.splice(i, 0, timeMs);
    this.values.splice(i, 0, value);
  }

  private fold(timeMs: number, value: number): void {
    const start = Math.floor(timeMs / this.bucketMs) * this.bucketMs;
    const i = lowerBound(this.times, start);
    if (this.times[i] === start) {
      this.values[i] = this.values[i]! + value;
      this.counts[i] = this.counts[i]! + 1;
      if (value < this.mins[i]!) this.mins[i] = value;
      if (value > this.maxs[i]!) this.maxs[i] = value;
      return;
    }
    this.times.splice(i, 0, start);
    this.values.splice(i, 0, value);
    this.counts.splice(i, 0, 1);
    this.mins.splice(i, 0, value);
    this.maxs.splice(i, 0, value);
  }

  /** A gap is several times the median spacing of the newest readings. */
  private rawGapMs(): number {
    const n = this.times.length;
    if (n < 3) return Number.POSITIVE_INFINITY;
    const sample: number[] = [];
    for (let i = Math.max(1, n - 64); i < n; i++) sample.push(this.times[i]! - this.times[i - 1]!);
    sample.sort((a, b) => a - b);
    const median = sample[sample.length >> 1]!;
    return Math.max(MIN_GAP_MS, GAP_FACTOR * median);
  }
}

/** First index whose time is ≥ t. */
function lowerBound(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

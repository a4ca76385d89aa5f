import { type BucketRow, SensorSeries } from "./sensor-series.ts";

/** One reading as the charts take it. */
export interface Point {
  sensor: string;
  timeMs: number;
  value: number;
}

/**
 * The charted readings of one device for one view: a SensorSeries per
 * sensor, all raw or all buckets of one width. Charts subscribe to redraw
 * when data changes (no React render per reading); the page subscribes to
 * the list of sensors, which changes only when a new sensor appears.
 */
export class DeviceReadings {
  private readonly bySensor = new Map<string, SensorSeries>();
  private readonly redrawListeners = new Set<() => void>();
  private readonly sensorListeners = new Set<() => void>();
  private sensorList: SensorSeries[] = [];

  /** Bucket width; 0 for raw readings. */
  readonly bucketMs: number;

  constructor(bucketMs: number) {
    this.bucketMs = bucketMs;
  }

  get source(): "raw" | "buckets" {
    return this.bucketMs > 0 ? "buckets" : "raw";
  }

  /** The series, sorted by sensor name (stable between changes, for useSyncExternalStore). */
  readonly sensors = (): SensorSeries[] => this.sensorList;

  readonly onSensors = (listener: () => void): (() => void) => {
    this.sensorListeners.add(listener);
    return () => this.sensorListeners.delete(listener);
  };

  readonly onRedraw = (listener: () => void): (() => void) => {
    this.redrawListeners.add(listener);
    return () => this.redrawListeners.delete(listener);
  };

  /** Asks every chart to redraw (the window moved). */
  redraw(): void {
    for (const l of this.redrawListeners) l();
  }

  /** Replaces a sensor's raw readings (sorted by time). */
  setRaw(sensor: string, times: number[], values: number[]): void {
    this.seriesFor(sensor).setRaw(times, values);
  }

  /** Replaces a sensor's buckets. */
  setBuckets(sensor: string, rows: BucketRow[]): void {
    this.seriesFor(sensor).setBuckets(this.bucketMs, rows);
  }

  /** Merges live readings (folded into buckets in bucket mode). */
  add(points: Iterable<Point>): void {
    for (const p of points) this.seriesFor(p.sensor).add(p.timeMs, p.value);
    this.redraw();
  }

  trimBefore(startMs: number): void {
    for (const s of this.sensorList) s.trimBefore(startMs);
  }

  /** Readings (or buckets) held in all. */
  get size(): number {
    return this.sensorList.reduce((n, s) => n + s.count, 0);
  }

  private seriesFor(sensor: string): SensorSeries {
    let s = this.bySensor.get(sensor);
    if (!s) {
      s = new SensorSeries(sensor);
      if (this.bucketMs > 0) s.setBuckets(this.bucketMs, []);
      this.bySensor.set(sensor, s);
      this.sensorList = [...this.bySensor.values()].sort((a, b) => (a.sensor < b.sensor ? -1 : 1));
      for (const l of this.sensorListeners) l();
    }
    return s;
  }
}

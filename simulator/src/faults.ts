import type { SensorSpec } from "./sensor-profiles.ts";

export type FaultKind = "spike" | "step" | "drift" | "stuck" | "dropout" | "silence";

/** An injected fault and the readings it changed: ground truth for detectors and benchmarks. */
export interface Fault {
  id: number;
  device: { code: string; number: number };
  /** Empty for silence. */
  sensor: string;
  kind: FaultKind;
  /** In sigmas of the sensor. */
  magnitude: number;
  sigma: number;
  durationMs: number;
  createdAtMs: number;
  /** Reading times it starts and ends at: set when the device generates its next batch. */
  fromMs: number | undefined;
  toMs: number | undefined;
  firstReadingMs: number | undefined;
  lastReadingMs: number | undefined;
  readings: number;
  /** stuck: the value held. */
  held: number | undefined;
}

/**
 * The natural standard deviation of a simulated sensor: its walk is
 * x' = x + 0.02 (nominal - x) + U(-v, v), an AR(1) process with
 * phi = 0.98 and innovations of standard deviation v / sqrt(3), so the
 * stationary standard deviation is (v / sqrt(3)) / sqrt(1 - phi^2).
 */
export function sensorSigma(spec: SensorSpec): number {
  const phi = 0.98;
  return spec.volatility / Math.sqrt(3) / Math.sqrt(1 - phi * phi);
}

export const MAX_FAULT_MS = 3_600_000;
const DEFAULT_FAULT_MS = 60_000;

/**
 * The faults of one device: applied to each batch as it is generated, in
 * event time (the readings' own times), and recorded.
 */
export class DeviceFaults {
  private readonly active: Fault[] = [];

  add(fault: Fault): void {
    this.active.push(fault);
  }

  get pending(): boolean {
    return this.active.length > 0;
  }

  /** True when a silence covers the time `t` (the device then generates nothing). */
  silencedAt(t: number): boolean {
    for (const f of this.active) {
      if (f.kind !== "silence") continue;
      this.anchor(f, t);
      if (t >= f.fromMs! && t < f.toMs!) {
        f.firstReadingMs ??= t;
        f.lastReadingMs = t;
        return true;
      }
    }
    return false;
  }

  /**
   * Changes `values` (sensor `sensor`, at `times`) in place; returns false
   * when the sensor must be left out of the batch (dropout).
   */
  apply(sensor: string, sigma: number, times: Float64Array, values: Float64Array, decimals: number): boolean {
    let keep = true;
    const scale = 10 ** decimals;
    for (const f of this.active) {
      if (f.kind === "silence" || f.sensor !== sensor) continue;
      this.anchor(f, times[0]!);
      for (let i = 0; i < times.length; i++) {
        const t = times[i]!;
        if (t < f.fromMs! || t >= f.toMs!) continue;
        f.firstReadingMs ??= t;
        f.lastReadingMs = t;
        f.readings++;
        switch (f.kind) {
          case "spike":
          case "step":
            values[i] = Math.round((values[i]! + f.magnitude * sigma) * scale) / scale;
            break;
          case "drift": {
            const share = (t - f.fromMs!) / Math.max(1, f.toMs! - f.fromMs!);
            values[i] = Math.round((values[i]! + share * f.magnitude * sigma) * scale) / scale;
            break;
          }
          case "stuck":
            f.held ??= i > 0 ? values[i - 1]! : values[i]!;
            values[i] = f.held;
            break;
          case "dropout":
            keep = false;
            break;
        }
      }
    }
    return keep;
  }

  /** Forgets faults that ended before `t`. */
  expire(t: number): void {
    for (let i = this.active.length - 1; i >= 0; i--) {
      const f = this.active[i]!;
      if (f.toMs !== undefined && f.toMs <= t) this.active.splice(i, 1);
    }
  }

  /** A fault starts at the first reading generated after it was injected. */
  private anchor(f: Fault, firstTime: number): void {
    if (f.fromMs !== undefined) return;
    f.fromMs = firstTime;
    f.toMs = firstTime + f.durationMs;
  }
}

/** Fills in the duration a fault gets when none is given. */
export function faultDuration(kind: FaultKind, durationMs: number, sampleSpacingMs: number): number {
  if (durationMs > 0) return durationMs;
  // One reading for a spike: its own spacing.
  return kind === "spike" ? Math.max(1, sampleSpacingMs) : DEFAULT_FAULT_MS;
}

import { sensorSigma } from "./faults.ts";

/**
 * Realistic sensor behaviour for simulated devices: each sensor drifts as a
 * mean-reverting random walk around a nominal value, with noise, clamped to
 * its physical range. Deterministic per seed, so runs can be reproduced.
 */
export interface SensorSpec {
  name: string;
  /** Where the walk settles. */
  nominal: number;
  /** Physical bounds; values never leave them. */
  min: number;
  max: number;
  /** Step size per sample, in units. */
  volatility: number;
  /** Decimal places the device reports. */
  decimals: number;
}

export type DeviceKind = "surgical_robot" | "environment" | "patient_monitor";

export const DEVICE_KINDS: Record<DeviceKind, SensorSpec[]> = {
  surgical_robot: [
    { name: "joint1.angle_deg", nominal: 0, min: -170, max: 170, volatility: 2, decimals: 2 },
    { name: "joint1.torque_nm", nominal: 12, min: -80, max: 80, volatility: 1.5, decimals: 2 },
    { name: "motor.temperature_c", nominal: 45, min: 20, max: 95, volatility: 0.2, decimals: 1 },
    { name: "motor.voltage_v", nominal: 48, min: 40, max: 56, volatility: 0.1, decimals: 2 },
    { name: "battery.charge_pct", nominal: 80, min: 0, max: 100, volatility: 0.05, decimals: 1 },
  ],
  environment: [
    { name: "room.temperature_c", nominal: 21, min: 15, max: 30, volatility: 0.05, decimals: 2 },
    { name: "room.humidity_pct", nominal: 45, min: 20, max: 70, volatility: 0.2, decimals: 1 },
    { name: "room.pressure_hpa", nominal: 1013, min: 980, max: 1040, volatility: 0.1, decimals: 1 },
  ],
  patient_monitor: [
    { name: "patient.heart_rate_bpm", nominal: 72, min: 35, max: 190, volatility: 1, decimals: 0 },
    { name: "patient.spo2_pct", nominal: 97, min: 80, max: 100, volatility: 0.3, decimals: 0 },
  ],
};

/** Which kind a device code stands for: OR and ROB are robots, ENV rooms, the rest monitors. */
export function kindForCode(code: string): DeviceKind {
  if (code.startsWith("OR") || code.startsWith("ROB")) return "surgical_robot";
  if (code.startsWith("ENV")) return "environment";
  return "patient_monitor";
}

/** mulberry32: a tiny, fast, seedable PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Produces the next value of each sensor of one device. */
export class SensorWalk {
  readonly specs: SensorSpec[];
  /** Each sensor's natural standard deviation (the unit of injected faults). */
  readonly sigmas: number[];
  private readonly current: number[];
  private readonly random: () => number;

  constructor(specs: SensorSpec[], seed: number) {
    this.specs = specs;
    this.sigmas = specs.map(sensorSigma);
    this.random = seededRandom(seed);
    this.current = specs.map((s) => s.nominal + (this.random() - 0.5) * s.volatility * 10);
  }

  /** Fills values[i] with the next reading of sensor `index`, for `count` samples. */
  fill(index: number, values: Float64Array): void {
    const spec = this.specs[index]!;
    const scale = 10 ** spec.decimals;
    let v = this.current[index]!;
    for (let i = 0; i < values.length; i++) {
      const pull = (spec.nominal - v) * 0.02;
      v += pull + (this.random() - 0.5) * 2 * spec.volatility;
      v = Math.min(spec.max, Math.max(spec.min, v));
      values[i] = Math.round(v * scale) / scale;
    }
    this.current[index] = v;
  }
}

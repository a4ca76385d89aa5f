import { COMPONENT_KINDS, type ComponentKind } from "@vigil/maintenance";

export const DAY_MS = 86_400_000;

/** How a kind of part wears: the simulator's ground truth. */
export interface PartSpec {
  kind: ComponentKind;
  /** Condition value of a new part: uniform in [lo, hi]. */
  newValue: [number, number];
  /** Wear towards the threshold, units per day: uniform in [lo, hi]. */
  ratePerDay: [number, number];
  /** Measurement noise of one reading (standard deviation). */
  noise: number;
  /** Cost of a replacement part, minor units. */
  partCostMinor: number;
  partNumber: string;
}

const kind = (name: string) => COMPONENT_KINDS.find((k) => k.kind === name)!;

/**
 * The parts of the simulated surgical robots. Lives from new to threshold:
 * battery 250 to 1,000 days, motor 150 to 600, joint 225 to 900.
 */
export const PART_SPECS: Record<string, PartSpec> = {
  battery: {
    kind: kind("battery"),
    newValue: [99, 101],
    ratePerDay: [0.02, 0.08],
    noise: 0.4,
    partCostMinor: 180_000,
    partNumber: "BAT-LI-4800",
  },
  motor: {
    kind: kind("motor"),
    newValue: [55, 60],
    ratePerDay: [0.045, 0.18],
    noise: 1.5,
    partCostMinor: 420_000,
    partNumber: "MTR-BLDC-220",
  },
  joint: {
    kind: kind("joint"),
    newValue: [0, 1],
    ratePerDay: [0.01, 0.04],
    noise: 0.25,
    partCostMinor: 260_000,
    partNumber: "JNT-HD-100",
  },
};

/** The components of one robot: a battery, and a motor and joint per arm. */
export function robotComponents(arms = 3): Array<{ component: string; sensor: string; spec: PartSpec }> {
  const out = [{ component: "battery", sensor: "battery.capacity_pct", spec: PART_SPECS.battery! }];
  for (let a = 1; a <= arms; a++) {
    out.push({ component: `arm${a}.motor`, sensor: `arm${a}.motor_temp_c`, spec: PART_SPECS.motor! });
    out.push({ component: `arm${a}.joint`, sensor: `arm${a}.torque_drift_pct`, spec: PART_SPECS.joint! });
  }
  return out;
}

/** One part from installation to replacement: value(t) = startValue ± rate · days since installation. */
export interface PartLife {
  component: string;
  sensor: string;
  spec: PartSpec;
  installedMs: number;
  startValue: number;
  /** Towards the threshold; 0 for a part that does not wear. */
  ratePerDay: number;
}

/** The noiseless condition of a part at a time. */
export function partValue(life: PartLife, tMs: number): number {
  const sign = life.spec.kind.failsAbove ? 1 : -1;
  return life.startValue + (sign * life.ratePerDay * (tMs - life.installedMs)) / DAY_MS;
}

/** When the part reaches its threshold (the true failure time); +∞ for a part that does not wear. */
export function trueCrossingMs(life: PartLife): number {
  if (life.ratePerDay <= 0) return Number.POSITIVE_INFINITY;
  return life.installedMs + (Math.abs(life.spec.kind.threshold - life.startValue) / life.ratePerDay) * DAY_MS;
}

/** How far a part is from new (0) to its threshold (1) at a time. */
export function wearFraction(life: PartLife, tMs: number): number {
  const span = Math.abs(life.spec.kind.threshold - life.startValue);
  return Math.abs(partValue(life, tMs) - life.startValue) / span;
}

/** A new part with random start value and wear rate. */
export function newPart(
  component: { component: string; sensor: string; spec: PartSpec },
  installedMs: number,
  random: () => number,
): PartLife {
  const [v0, v1] = component.spec.newValue;
  const [r0, r1] = component.spec.ratePerDay;
  return {
    ...component,
    installedMs,
    startValue: v0 + (v1 - v0) * random(),
    ratePerDay: r0 + (r1 - r0) * random(),
  };
}

/**
 * The components Vigil forecasts, and the condition sensor each is judged
 * by. A robot has a component when it reports the sensor. A new kind is one
 * more entry here.
 */
export interface ComponentKind {
  /** "battery", "motor", "joint". */
  kind: string;
  /** Matches the condition sensors of this kind; group 1, when present, names the unit (arm). */
  sensorPattern: RegExp;
  /** The component a matching sensor belongs to, such as "arm2.motor". */
  componentOf(match: RegExpExecArray): string;
  /** The failure threshold, in the sensor's unit. */
  threshold: number;
  /** The value fails by rising above the threshold (true) or falling below it. */
  failsAbove: boolean;
  /** What the sensor measures, for docs and the CLI. */
  measures: string;
}

export const COMPONENT_KINDS: readonly ComponentKind[] = [
  {
    kind: "battery",
    sensorPattern: /^battery\.capacity_pct$/,
    componentOf: () => "battery",
    threshold: 80,
    failsAbove: false,
    measures: "full-charge capacity, % of rated, measured once per charge cycle",
  },
  {
    kind: "motor",
    sensorPattern: /^(arm[1-9])\.motor_temp_c$/,
    componentOf: (m) => `${m[1]}.motor`,
    threshold: 85,
    failsAbove: true,
    measures: "arm motor temperature under load, °C (bearing wear and winding faults heat it)",
  },
  {
    kind: "joint",
    sensorPattern: /^(arm[1-9])\.torque_drift_pct$/,
    componentOf: (m) => `${m[1]}.joint`,
    threshold: 10,
    failsAbove: true,
    measures: "joint torque drift against the calibrated model, % (gearbox and cable wear)",
  },
];

/** A condition sensor's component, or undefined when the sensor is not a condition sensor. */
export function componentOfSensor(sensor: string): { component: string; kind: ComponentKind } | undefined {
  for (const kind of COMPONENT_KINDS) {
    const m = kind.sensorPattern.exec(sensor);
    if (m) return { component: kind.componentOf(m), kind };
  }
  return undefined;
}

/** Component names: "battery", or "arm<1-9>.<motor|joint>". */
export const COMPONENT_PATTERN = /^(battery|arm[1-9]\.(motor|joint))$/;

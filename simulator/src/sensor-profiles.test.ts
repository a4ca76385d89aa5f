import { describe, expect, it } from "vitest";
import { DEVICE_KINDS, kindForCode, SensorWalk } from "./sensor-profiles.ts";

describe("sensor profiles", () => {
  it("stays within each sensor's physical range over a long run", () => {
    for (const specs of Object.values(DEVICE_KINDS)) {
      const walk = new SensorWalk(specs, 42);
      specs.forEach((spec, i) => {
        const values = new Float64Array(100_000);
        walk.fill(i, values);
        expect(Math.min(...values)).toBeGreaterThanOrEqual(spec.min);
        expect(Math.max(...values)).toBeLessThanOrEqual(spec.max);
        expect(values.every(Number.isFinite)).toBe(true);
      });
    }
  });

  it("is reproducible from its seed and varies between seeds", () => {
    const a = new Float64Array(50);
    const b = new Float64Array(50);
    const c = new Float64Array(50);
    new SensorWalk(DEVICE_KINDS.patient_monitor, 7).fill(0, a);
    new SensorWalk(DEVICE_KINDS.patient_monitor, 7).fill(0, b);
    new SensorWalk(DEVICE_KINDS.patient_monitor, 8).fill(0, c);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("maps device codes to kinds", () => {
    expect(kindForCode("OR")).toBe("surgical_robot");
    expect(kindForCode("ENV")).toBe("environment");
    expect(kindForCode("ICU")).toBe("patient_monitor");
  });
});

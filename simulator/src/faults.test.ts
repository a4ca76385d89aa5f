import { describe, expect, it } from "vitest";
import { DeviceFaults, type Fault, type FaultKind, sensorSigma } from "./faults.ts";

function fault(kind: FaultKind, magnitude: number, durationMs: number, sensor = "s"): Fault {
  return {
    id: 1,
    device: { code: "SIM", number: 1 },
    sensor,
    kind,
    magnitude,
    sigma: 2,
    durationMs,
    createdAtMs: 0,
    fromMs: undefined,
    toMs: undefined,
    firstReadingMs: undefined,
    lastReadingMs: undefined,
    readings: 0,
    held: undefined,
  };
}

const times = () => Float64Array.from([1000, 1100, 1200, 1300]);
const flat = () => Float64Array.from([10, 10, 10, 10]);

describe("DeviceFaults", () => {
  it("a spike of one reading offsets exactly that reading by magnitude sigmas", () => {
    const faults = new DeviceFaults();
    const f = fault("spike", 5, 100);
    faults.add(f);
    const values = flat();
    expect(faults.apply("s", 2, times(), values, 2)).toBe(true);
    expect([...values]).toEqual([20, 10, 10, 10]);
    expect(f.firstReadingMs).toBe(1000);
    expect(f.lastReadingMs).toBe(1000);
    expect(f.readings).toBe(1);
  });

  it("a drift grows to its magnitude over the duration; other sensors are untouched", () => {
    const faults = new DeviceFaults();
    faults.add(fault("drift", 4, 400));
    const values = flat();
    const other = flat();
    faults.apply("s", 1, times(), values, 2);
    faults.apply("t", 1, times(), other, 2);
    expect([...values]).toEqual([10, 11, 12, 13]);
    expect([...other]).toEqual([10, 10, 10, 10]);
  });

  it("a dropout leaves the sensor out, a silence stops the device, and both end", () => {
    const faults = new DeviceFaults();
    faults.add(fault("dropout", 0, 200));
    expect(faults.apply("s", 1, times(), flat(), 2)).toBe(false);
    faults.expire(1300);
    expect(faults.pending).toBe(false);
    faults.add(fault("silence", 0, 1000, ""));
    expect(faults.silencedAt(5000)).toBe(true);
    expect(faults.silencedAt(5999)).toBe(true);
    expect(faults.silencedAt(6000)).toBe(false);
  });

  it("sigma is the walk's stationary standard deviation", () => {
    // v / sqrt(3) / sqrt(1 - 0.98^2) for volatility v = 1
    expect(sensorSigma({ name: "x", nominal: 0, min: -1e9, max: 1e9, volatility: 1, decimals: 2 })).toBeCloseTo(
      2.9013,
      3,
    );
  });
});

import type { AnomalyCondition } from "@vigil/alerts";
import { DEVICE_KINDS, SensorWalk, sensorSigma } from "@vigil/simulator";
import { describe, expect, it } from "vitest";
import { type AnomalyState, anomalyDetector } from "./anomaly.ts";

const rule: AnomalyCondition = { kind: "anomaly", sensitivity: 6, warmupSamples: 100, halfLifeSamples: 5 };
const ctx = { ruleName: "r", device: "SIM-1", sensor: "s" };
const specs = Object.values(DEVICE_KINDS).flat();

/** Runs the detector over `n` readings of every simulated sensor, with `fault` changing some. */
function run(n: number, fault?: (i: number, sigma: number) => number) {
  let fires = 0;
  let injected = 0;
  let caught = 0;
  specs.forEach((spec, k) => {
    const walk = new SensorWalk([spec], 1_000 + k);
    const values = new Float64Array(n);
    walk.fill(0, values);
    const sigma = sensorSigma(spec);
    const scale = 10 ** spec.decimals;
    const state = anomalyDetector.create(rule, 0) as AnomalyState;
    for (let i = 0; i < n; i++) {
      const offset = fault?.(i, sigma) ?? 0;
      if (offset !== 0) injected++;
      const v = Math.round((values[i]! + offset) * scale) / scale;
      const verdict = anomalyDetector.observe(rule, state, i * 100, v, ctx);
      if (verdict && "fire" in verdict) {
        fires++;
        if (offset !== 0) caught++;
      }
    }
  });
  return { fires, injected, caught };
}

describe("anomaly detector", () => {
  it("raises nothing on a million clean readings of the simulated sensors (28 device-hours at 10 Hz)", () => {
    const { fires } = run(100_000);
    expect(fires).toBe(0);
  });

  it("catches at least 95 % of 5-sigma spikes, each at the spiked reading", () => {
    const spike = (i: number, sigma: number) => (i > 200 && i % 250 === 0 ? (i % 500 === 0 ? 5 : -5) * sigma : 0);
    const { injected, caught, fires } = run(50_000, spike);
    expect(caught / injected).toBeGreaterThanOrEqual(0.95);
    // Nothing but the spikes.
    expect(fires).toBe(caught);
  });

  it("catches a 5-sigma step at its first reading, once, and its end as another anomaly", () => {
    const step = (i: number, sigma: number) => (i >= 5_000 && i < 6_000 ? 5 * sigma : 0);
    const { fires, caught } = run(8_000, step);
    expect(caught).toBe(specs.length);
    // The step's start and its end (a 5-sigma drop back) fire once each per sensor.
    expect(fires).toBe(2 * specs.length);
  });

  it("stays quiet during warm-up and restarts nothing from a checkpointed state", () => {
    const state = anomalyDetector.create(rule, 0) as AnomalyState;
    for (let i = 0; i < 99; i++)
      expect(anomalyDetector.observe(rule, state, i, i % 2 ? 1000 : -1000, ctx)).toBeUndefined();
    const copy = JSON.parse(JSON.stringify(state)) as AnomalyState;
    expect(copy).toEqual(state);
  });
});

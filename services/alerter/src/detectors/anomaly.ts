import type { AnomalyCondition } from "@vigil/alerts";
import { type Detector, fmt } from "./detector.ts";

export interface AnomalyState {
  /** Readings seen. */
  n: number;
  /** Exponentially weighted mean and variance of the readings. */
  mean: number;
  variance: number;
  /** Smallest non-zero step between two readings: the sensor's resolution. */
  resolution: number;
  last: number;
  firing: boolean;
}

/** Residuals beyond this many standard deviations count as outliers: they move the mean and the variance as if they were this far. */
const CLIP = 3;

/**
 * A robust streaming z-score per device and sensor (docs/alerts.md, "Anomaly"):
 * exponentially weighted mean and variance with weight alpha = 1 - 2^(-1/h)
 * for a half-life of h readings; z = (x - mean) / sd with sd floored at
 * half the sensor's resolution; fires at |z| >= sensitivity once
 * `warmup_samples` readings were seen, resolves below sensitivity / 2.
 * Outliers are clipped (Huber-style) so a spike does not teach the
 * detector that spikes are normal, and a lasting step is learnt at a
 * bounded pace.
 */
export const anomalyDetector: Detector<AnomalyCondition, AnomalyState> = {
  kind: "anomaly",
  create: () => ({ n: 0, mean: 0, variance: 0, resolution: 0, last: 0, firing: false }),
  observe(c, s, t, v, ctx) {
    if (s.n === 0) {
      s.n = 1;
      s.mean = v;
      s.last = v;
      return undefined;
    }
    const step = Math.abs(v - s.last);
    if (step > 0 && (s.resolution === 0 || step < s.resolution)) s.resolution = step;
    s.last = v;
    const alpha = 1 - 2 ** (-1 / c.halfLifeSamples);
    // The variance starts at 0: divide out the weight it has gathered so far (as Adam does).
    const weight = 1 - (1 - alpha) ** (s.n - 1);
    const floor = Math.max(s.resolution / 2, 1e-9 * Math.max(1, Math.abs(s.mean)));
    const sd = Math.sqrt(Math.max(weight > 0 ? s.variance / weight : 0, floor * floor));
    const residual = v - s.mean;
    const z = residual / sd;
    const warm = s.n >= c.warmupSamples;
    s.n++;
    // Huber: an outlier counts as if it were CLIP standard deviations away, so one spike barely
    // moves the estimates, and a lasting step is learnt at a bounded pace.
    const clipped = warm ? Math.max(-CLIP * sd, Math.min(CLIP * sd, residual)) : residual;
    s.mean += alpha * clipped;
    s.variance = (1 - alpha) * (s.variance + alpha * clipped * clipped);
    if (!warm) return undefined;
    if (s.firing) {
      if (Math.abs(z) >= c.sensitivity / 2) return undefined;
      s.firing = false;
      return { resolve: { atMs: t, reason: `back within ${fmt(c.sensitivity / 2)} standard deviations` } };
    }
    if (Math.abs(z) < c.sensitivity) return undefined;
    s.firing = true;
    const mean = v - residual;
    return {
      fire: {
        startedAtMs: t,
        values: [[t, v]],
        details: { mean, sd, z, sensitivity: c.sensitivity, halfLifeSamples: c.halfLifeSamples },
        summary: `${ctx.device} ${ctx.sensor} anomalous: ${fmt(v)} is ${fmt(Math.abs(z))} standard deviations ${z > 0 ? "above" : "below"} the expected ${fmt(mean)}`,
      },
    };
  },
};

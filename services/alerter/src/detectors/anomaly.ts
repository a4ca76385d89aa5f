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

/** Residuals beyond this many standard deviations count as outliers: they move the mean by at most this much and leave the variance alone. */
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
    const floor = Math.max(s.resolution / 2, 1e-9 * Math.max(1, Math.abs(s.mean)));
    const sd = Math.sqrt(Math.max(s.variance, floor * floor));
    const residual = v - s.mean;
    const z = residual / sd;
    const alpha = 1 - 2 ** (-1 / c.halfLifeSamples);
    const warm = s.n >= c.warmupSamples;
    s.n++;
    if (warm && Math.abs(z) > CLIP) {
      s.mean += alpha * Math.sign(residual) * CLIP * sd;
    } else {
      s.mean += alpha * residual;
      s.variance = (1 - alpha) * (s.variance + alpha * residual * residual);
    }
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

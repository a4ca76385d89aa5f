import type { ThresholdCondition } from "@vigil/alerts";
import { type Detector, fmt, fmtDuration, MAX_VALUES } from "./detector.ts";

export interface ThresholdState {
  firing: boolean;
  /** Time of the first reading of the current breach; null outside one. */
  since: number | null;
  /** Readings of the current breach (the first MAX_VALUES). */
  values: Array<[number, number]>;
  peak: number;
}

/**
 * Above (below) a value for a duration of event time; resolves once back
 * past the value by the hysteresis, so a value hovering at the limit does
 * not flap.
 */
export const thresholdDetector: Detector<ThresholdCondition, ThresholdState> = {
  kind: "threshold",
  create: () => ({ firing: false, since: null, values: [], peak: 0 }),
  observe(c, s, t, v, ctx) {
    const above = c.comparison === "above";
    if (s.firing) {
      const clear = above ? v <= c.value - c.hysteresis : v >= c.value + c.hysteresis;
      if (!clear) return undefined;
      s.firing = false;
      s.since = null;
      s.values = [];
      return { resolve: { atMs: t, reason: `${fmt(v)} is back ${above ? "below" : "above"} ${fmt(c.value)}` } };
    }
    const breach = above ? v > c.value : v < c.value;
    if (!breach) {
      s.since = null;
      s.values = [];
      return undefined;
    }
    if (s.since === null) {
      s.since = t;
      s.peak = v;
    }
    s.peak = above ? Math.max(s.peak, v) : Math.min(s.peak, v);
    if (s.values.length < MAX_VALUES) s.values.push([t, v]);
    if (t - s.since < c.forMs) return undefined;
    s.firing = true;
    const held = c.forMs > 0 ? ` for ${fmtDuration(t - s.since)}` : "";
    return {
      fire: {
        startedAtMs: s.since,
        values: s.values,
        details: { comparison: c.comparison, limit: c.value, peak: s.peak, forMs: c.forMs, hysteresis: c.hysteresis },
        summary: `${ctx.device} ${ctx.sensor} ${c.comparison} ${fmt(c.value)}${held} (${above ? "max" : "min"} ${fmt(s.peak)})`,
      },
    };
  },
};

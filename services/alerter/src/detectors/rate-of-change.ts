import type { RateOfChangeCondition } from "@vigil/alerts";
import { type Detector, fmt, fmtDuration, MAX_VALUES } from "./detector.ts";

export interface RateState {
  /** Readings within the window: times and values, oldest first. */
  times: number[];
  values: number[];
  firing: boolean;
  since: number | null;
  breach: Array<[number, number]>;
}

/** Most readings kept per series for the window (older ones are thinned out). */
const MAX_WINDOW_READINGS = 256;

/**
 * The change over the window (from the oldest reading inside it to this
 * one) in units per second, above `per_second` (rising) or below
 * `-per_second` (falling), for a duration; resolves with hysteresis.
 */
export const rateOfChangeDetector: Detector<RateOfChangeCondition, RateState> = {
  kind: "rate_of_change",
  create: () => ({ times: [], values: [], firing: false, since: null, breach: [] }),
  observe(c, s, t, v, ctx) {
    s.times.push(t);
    s.values.push(v);
    while (s.times.length > 1 && s.times[0]! < t - c.windowMs) {
      s.times.shift();
      s.values.shift();
    }
    if (s.times.length > MAX_WINDOW_READINGS) {
      // Keep every other reading: the window's span stays, its resolution halves.
      s.times = s.times.filter((_, i) => i % 2 === 1 || i === s.times.length - 1);
      s.values = s.values.filter((_, i) => i % 2 === 1 || i === s.values.length - 1);
    }
    const span = t - s.times[0]!;
    // Too little of the window seen to measure a rate yet.
    if (span < c.windowMs / 2) return undefined;
    const rate = ((v - s.values[0]!) / span) * 1000;
    const rising = c.comparison === "above";
    if (s.firing) {
      const limit = c.perSecond - c.hysteresis;
      const clear = rising ? rate <= limit : rate >= -limit;
      if (!clear) return undefined;
      s.firing = false;
      s.since = null;
      s.breach = [];
      return { resolve: { atMs: t, reason: `rate ${fmt(rate)}/s is back within ${fmt(c.perSecond)}/s` } };
    }
    const breach = rising ? rate > c.perSecond : rate < -c.perSecond;
    if (!breach) {
      s.since = null;
      s.breach = [];
      return undefined;
    }
    s.since ??= t;
    if (s.breach.length < MAX_VALUES) s.breach.push([t, v]);
    if (t - s.since < c.forMs) return undefined;
    s.firing = true;
    return {
      fire: {
        startedAtMs: s.since,
        values: s.breach,
        details: { comparison: c.comparison, perSecond: c.perSecond, rate, windowMs: c.windowMs },
        summary: `${ctx.device} ${ctx.sensor} ${rising ? "rising" : "falling"} ${fmt(Math.abs(rate))}/s over ${fmtDuration(c.windowMs)} (limit ${fmt(c.perSecond)}/s)`,
      },
    };
  },
};

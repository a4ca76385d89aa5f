import type { AbsenceCondition } from "@vigil/alerts";
import { type Detector, fmtDuration } from "./detector.ts";

export interface AbsenceState {
  /** Event time of the newest reading, or when watching began. */
  last: number;
  /** False until a reading was seen (`last` is then when watching began). */
  seen: boolean;
  firing: boolean;
}

/**
 * Silence for `silent_for` of event time: the clock is the wall clock less
 * the allowed lateness once the alerter has caught up, or the newest reading
 * time of the partition while it replays. An alert starts at the newest
 * reading plus `silent_for`, the same on every replica, and resolves with
 * the next reading.
 */
export const absenceDetector: Detector<AbsenceCondition, AbsenceState> = {
  kind: "absence",
  create: (_c, startMs) => ({ last: startMs, seen: false, firing: false }),
  observe(_c, s, t) {
    if (t > s.last) s.last = t;
    s.seen = true;
    if (!s.firing) return undefined;
    s.firing = false;
    return { resolve: { atMs: t, reason: "readings again" } };
  },
  tick(c, s, clockMs, ctx) {
    if (s.firing || clockMs - s.last < c.silentForMs) return undefined;
    s.firing = true;
    const what = ctx.sensor ? `${ctx.device} ${ctx.sensor}` : ctx.device;
    const since = s.seen ? `since its reading at ${new Date(s.last).toISOString()}` : "since watching began";
    return {
      fire: {
        startedAtMs: s.last + c.silentForMs,
        values: [],
        details: { silentForMs: c.silentForMs, lastReadingTime: s.seen ? new Date(s.last).toISOString() : null },
        summary: `${what} silent for ${fmtDuration(c.silentForMs)} ${since}`,
      },
    };
  },
};

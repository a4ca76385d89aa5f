import type { ThresholdCondition } from "@vigil/alerts";
import { describe, expect, it } from "vitest";
import type { Verdict } from "./detector.ts";
import { type ThresholdState, thresholdDetector } from "./threshold.ts";

const ctx = { ruleName: "r", device: "MON-1", sensor: "hr" };

function feed(c: ThresholdCondition, points: Array<[number, number]>): Array<[number, Verdict]> {
  const s = thresholdDetector.create(c, 0) as ThresholdState;
  const out: Array<[number, Verdict]> = [];
  for (const [t, v] of points) {
    const verdict = thresholdDetector.observe(c, s, t, v, ctx);
    if (verdict) out.push([t, verdict]);
  }
  return out;
}

describe("threshold detector", () => {
  const c: ThresholdCondition = { kind: "threshold", comparison: "above", value: 140, forMs: 2_000, hysteresis: 5 };

  it("fires once the breach has held for the duration of event time, starting at its first reading", () => {
    const verdicts = feed(c, [
      [0, 150],
      [1_000, 150],
      [1_500, 130], // broken: starts again
      [2_000, 141],
      [3_000, 145],
      [4_000, 150],
    ]);
    expect(verdicts).toHaveLength(1);
    const [at, v] = verdicts[0]!;
    expect(at).toBe(4_000);
    expect("fire" in v && v.fire.startedAtMs).toBe(2_000);
    expect("fire" in v && v.fire.values).toEqual([
      [2_000, 141],
      [3_000, 145],
      [4_000, 150],
    ]);
  });

  it("does not flap around the limit: it resolves only past the hysteresis", () => {
    const verdicts = feed({ ...c, forMs: 0 }, [
      [0, 141],
      [100, 139],
      [200, 141],
      [300, 136],
      [400, 134],
      [500, 141],
    ]);
    expect(verdicts.map(([t, v]) => `${t}:${"fire" in v ? "fire" : "resolve"}`)).toEqual([
      "0:fire",
      "400:resolve",
      "500:fire",
    ]);
  });
});

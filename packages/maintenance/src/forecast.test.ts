import { describe, expect, it } from "vitest";
import { type ConditionPoint, DAY_MS, forecastComponent } from "./forecast.ts";

const NOW = Date.UTC(2026, 5, 1);

/** Daily points from `days` ago up to yesterday. */
function series(days: number, value: (dayFromNow: number) => number): ConditionPoint[] {
  return Array.from({ length: days }, (_, i) => {
    const d = i - days;
    return { timeMs: NOW + d * DAY_MS, value: value(d) };
  });
}

const battery = { nowMs: NOW, horizonMs: 30 * DAY_MS, threshold: 80, failsAbove: false };

describe("forecastComponent", () => {
  it("puts the crossing where the trend meets the threshold, inside its interval", () => {
    // 0.1 %/day from 90 % now: 100 days to 80 %.
    const wobble = (d: number) => Math.sin(d * 1.7) * 0.3;
    const f = forecastComponent(
      series(60, (d) => 90 - 0.1 * d + wobble(d)),
      battery,
    );
    expect(f.status).toBe("ok");
    expect(Math.abs((f.crossingMs! - NOW) / DAY_MS - 100)).toBeLessThan(5);
    expect(f.crossingEarliestMs!).toBeLessThanOrEqual(f.crossingMs!);
    expect(f.crossingLatestMs!).toBeGreaterThanOrEqual(f.crossingMs!);
    expect(f.slopePerDay!).toBeCloseTo(-0.1, 1);
    expect(f.points).toBe(60);
  });

  it("is due when the crossing comes within the horizon", () => {
    const f = forecastComponent(
      series(30, (d) => 82 - 0.1 * d),
      battery,
    );
    expect(f.status).toBe("due");
    expect((f.crossingMs! - NOW) / DAY_MS).toBeCloseTo(20, 5);
  });

  it("is overdue once the fitted value is past the threshold, crossing in the past", () => {
    const f = forecastComponent(
      series(30, (d) => 79 - 0.1 * d),
      battery,
    );
    expect(f.status).toBe("overdue");
    expect(f.crossingMs!).toBeLessThan(NOW);
  });

  it("calls flat noise stable and predicts no crossing", () => {
    const f = forecastComponent(
      series(90, (d) => 95 + Math.sin(d * 2.3) * 0.8),
      battery,
    );
    expect(f.status).toBe("stable");
    expect(f.crossingMs).toBeUndefined();
  });

  it("shrugs off a few wild days (a sensor glitch) that would fool a mean line", () => {
    const f = forecastComponent(
      series(60, (d) => (d % 9 === 0 ? 20 : 90 - 0.1 * d)),
      battery,
    );
    expect(Math.abs((f.crossingMs! - NOW) / DAY_MS - 100)).toBeLessThan(1);
  });

  it("rises for components that fail above the threshold", () => {
    const f = forecastComponent(
      series(40, (d) => 70 + 0.5 * d),
      { nowMs: NOW, horizonMs: 30 * DAY_MS, threshold: 85, failsAbove: true },
    );
    expect(f.status).toBe("due");
    expect((f.crossingMs! - NOW) / DAY_MS).toBeCloseTo(30, 5);
  });

  it("needs a week of points", () => {
    expect(
      forecastComponent(
        series(6, () => 90),
        battery,
      ).status,
    ).toBe("insufficient_data");
  });
});

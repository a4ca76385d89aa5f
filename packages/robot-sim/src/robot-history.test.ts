import { pseudonymProblem } from "@vigil/procedures";
import { describe, expect, it } from "vitest";
import { DAY_MS, partValue, trueCrossingMs } from "./parts.ts";
import { procedureTelemetry } from "./procedure-telemetry.ts";
import { type RobotSpec, robotHistory } from "./robot-history.ts";

const END = Date.UTC(2026, 0, 1);
const robot: RobotSpec = {
  code: "OR",
  number: 7,
  site: "st-mary",
  availableHoursPerDay: 10,
  proceduresPerDay: 3,
  commissionedMs: END - 900 * DAY_MS,
};

describe("robotHistory", () => {
  const full = robotHistory(robot, END - 730 * DAY_MS, END);

  it("is the same day for day whatever range is asked for", () => {
    const tail = robotHistory(robot, END - 100 * DAY_MS, END);
    const fromFull = full.procedures.filter((p) => p.startMs >= END - 100 * DAY_MS);
    expect(tail.procedures).toEqual(fromFull);
    expect(tail.maintenance).toEqual(full.maintenance.filter((m) => m.startMs >= END - 100 * DAY_MS));
    const longer = robotHistory(robot, END - 730 * DAY_MS, END + 30 * DAY_MS);
    expect(longer.procedures.slice(0, full.procedures.length)).toEqual(full.procedures);
  });

  it("schedules procedures within the site's hours, never two at once or during downtime", () => {
    expect(full.procedures.length).toBeGreaterThan(730 * 1.5);
    let lastEnd = 0;
    for (const p of full.procedures) {
      const hourOfDay = (p.startMs % DAY_MS) / 3_600_000;
      expect(hourOfDay).toBeGreaterThanOrEqual(7);
      expect((p.endMs % DAY_MS) / 3_600_000 || 24).toBeLessThanOrEqual(17.0001);
      expect(p.startMs).toBeGreaterThanOrEqual(lastEnd);
      lastEnd = p.endMs;
      for (const m of full.maintenance)
        expect(p.startMs >= m.startMs + m.downtimeMs || p.endMs <= m.startMs).toBe(true);
      expect(pseudonymProblem(p.patientId)).toBeUndefined();
      expect(pseudonymProblem(p.surgeonId)).toBeUndefined();
    }
  });

  it("replaces worn parts (mostly before their threshold) and records quarterly services and failures", () => {
    const replaced = full.maintenance.filter((m) => m.components.length > 0);
    expect(replaced.length).toBeGreaterThan(3);
    expect(full.maintenance.filter((m) => m.notes.startsWith("quarterly")).length).toBeGreaterThanOrEqual(7);
    expect(full.maintenance.every((m) => m.kind === "preventive" || m.kind === "corrective")).toBe(true);
  });

  it("reads the parts' condition around their true values, with a few glitches", () => {
    const battery = full.condition.find((c) => c.sensor === "battery.capacity_pct")!;
    expect(battery.times.length).toBeGreaterThan(600);
    const life = full.parts.find((p) => p.component === "battery")!;
    const recent = battery.times.map((t, i) => [t, battery.values[i]!] as const).filter(([t]) => t > life.installedMs);
    const errors = recent.map(([t, v]) => Math.abs(v - partValue(life, t)));
    const close = errors.filter((e) => e < 4 * life.spec.noise).length / errors.length;
    expect(close).toBeGreaterThan(0.95);
    expect(trueCrossingMs(life)).toBeGreaterThan(life.installedMs);
  });

  it("gives every procedure telemetry from each arm and the camera, phase by phase", () => {
    const p = full.procedures.at(-1)!;
    const series = procedureTelemetry("OR-7", p, 10_000);
    expect(series.map((s) => s.sensor)).toContain("arm2.force_n");
    const recording = series.find((s) => s.sensor === "camera.recording")!;
    expect(recording.values[0]).toBe(0);
    expect(recording.values[Math.floor(recording.values.length / 2)]).toBe(1);
    expect(series[0]!.times.length).toBe(Math.floor((p.endMs - p.startMs) / 10_000) || 1);
  });
});

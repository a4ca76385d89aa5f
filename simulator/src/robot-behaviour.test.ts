import { newPart, PART_SPECS, partValue, robotComponents } from "@vigil/robot-sim";
import { describe, expect, it } from "vitest";
import type { ProcedureRecorder, RecordedMaintenance } from "./procedure-recorder.ts";
import { RobotBehaviour } from "./robot-behaviour.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1, 8);

/** A recorder that remembers what the robot asked for (the robot's logic, without the API). */
function memoryRecorder() {
  const calls: string[] = [];
  const maintenance: RecordedMaintenance[] = [];
  let n = 0;
  const recorder: ProcedureRecorder = {
    async start() {
      calls.push("start");
      return `p${++n}`;
    },
    async end(id, aborted) {
      calls.push(`end ${id}${aborted ? " aborted" : ""}`);
    },
    async maintenance(_device, record) {
      maintenance.push(record);
    },
  };
  return { recorder, calls, maintenance };
}

/** Batches of 10 samples a second apart, as the simulator sends them, from `from` for `seconds`. */
function* batches(from: number, seconds: number) {
  for (let s = 0; s < seconds; s += 10) yield Float64Array.from({ length: 10 }, (_, i) => from + (s + i) * 1000);
}

describe("RobotBehaviour", () => {
  it("performs procedures one after another, with arm and camera telemetry only while operating", async () => {
    const { recorder, calls } = memoryRecorder();
    const parts = robotComponents().map((c) => newPart(c, T0 - 100 * DAY, () => 0.5));
    const robot = new RobotBehaviour(
      { code: "ROB", number: 1 },
      { procedureMs: 60_000, gapMs: 30_000, recorder, parts, now: () => T0 },
    );
    let telemetryBatches = 0;
    const sensorsSeen = new Set<string>();
    for (const times of batches(T0, 600)) {
      const series = robot.series(times);
      if (series.some((s) => s.sensor === "arm1.force_n")) telemetryBatches++;
      for (const s of series) {
        sensorsSeen.add(s.sensor);
        for (let i = 1; i < s.times.length; i++) expect(s.times[i]!).toBeGreaterThan(s.times[i - 1]!);
        for (const t of s.times) expect(t >= times[0]! && t <= times.at(-1)!).toBe(true);
      }
      await Promise.resolve();
    }
    expect(robot.proceduresStarted).toBeGreaterThanOrEqual(4);
    expect(calls.filter((c) => c === "start").length).toBe(robot.proceduresStarted);
    expect(calls.filter((c) => c.startsWith("end")).length).toBeGreaterThanOrEqual(robot.proceduresStarted - 1);
    expect(telemetryBatches).toBeGreaterThan(10);
    expect(telemetryBatches).toBeLessThan(60);
    expect([...sensorsSeen]).toEqual(
      expect.arrayContaining(["battery.capacity_pct", "arm2.motor_temp_c", "arm3.torque_drift_pct"]),
    );
  });

  it("reports each part's condition around its true value, and replaces a worn part through maintenance", async () => {
    const { recorder, maintenance } = memoryRecorder();
    const parts = robotComponents().map((c) => newPart(c, T0 - 10 * DAY, () => 0.5));
    // The battery is at 92 % of its wear: due for replacement.
    const battery = parts.find((p) => p.component === "battery")!;
    const lifeDays = (battery.startValue - 80) / battery.ratePerDay;
    battery.installedMs = T0 - 0.92 * lifeDays * DAY;
    const robot = new RobotBehaviour(
      { code: "ROB", number: 2 },
      { procedureMs: 20_000, gapMs: 10_000, recorder, parts, now: () => T0 },
    );
    let first: number | undefined;
    for (const times of batches(T0, 120)) {
      for (const s of robot.series(times)) {
        if (s.sensor === "battery.capacity_pct" && first === undefined) {
          first = s.values[0];
          expect(Math.abs(s.values[0]! - partValue(battery, s.times[0]!))).toBeLessThan(5 * PART_SPECS.battery!.noise);
        }
      }
    }
    expect(first).toBeDefined();
    expect(maintenance).toHaveLength(1);
    expect(maintenance[0]).toMatchObject({ kind: "preventive", components: ["battery"] });
  });

  it("ends a procedure in progress when its device stops", async () => {
    const { recorder, calls } = memoryRecorder();
    const parts = robotComponents().map((c) => newPart(c, T0, () => 0.5));
    const robot = new RobotBehaviour(
      { code: "ROB", number: 3 },
      { procedureMs: 3_600_000, gapMs: 1, recorder, parts, now: () => T0 },
    );
    for (const times of batches(T0, 30)) robot.series(times);
    await new Promise((r) => setTimeout(r, 0));
    expect(robot.inProcedure).toBe(true);
    await robot.stop();
    expect(calls.at(-1)).toBe("end p1 aborted");
    expect(robot.inProcedure).toBe(false);
  });
});

import { gaussian, randomFor, uniform } from "./random.ts";
import type { ProcedureEvent } from "./robot-history.ts";

/** The telemetry sensors of a surgical robot during a procedure. */
export function telemetrySensors(arms = 3): string[] {
  const out: string[] = [];
  for (let a = 1; a <= arms; a++) {
    out.push(`arm${a}.joint1_deg`, `arm${a}.joint2_deg`, `arm${a}.joint3_deg`, `arm${a}.force_n`);
  }
  out.push("camera.zoom_x", "camera.focus_mm", "camera.recording");
  return out;
}

export interface TelemetrySeries {
  sensor: string;
  times: Float64Array;
  values: Float64Array;
}

/** Which phase a moment of a procedure is in: setup (first 10 %), operating, closing (last 10 %). */
export function procedurePhase(fraction: number): "setup" | "operating" | "closing" {
  return fraction < 0.1 ? "setup" : fraction < 0.9 ? "operating" : "closing";
}

/**
 * What a robot's arms and camera report during a procedure, one sample
 * every `intervalMs`: the arms move from rest to their working pose
 * (setup), work around it with the surgeon's motions and tissue forces
 * (operating), and return to rest (closing); the camera records while
 * operating. Deterministic per procedure.
 */
export function procedureTelemetry(
  robot: string,
  procedure: Pick<ProcedureEvent, "id" | "startMs" | "endMs">,
  intervalMs: number,
  arms = 3,
): TelemetrySeries[] {
  const random = randomFor(robot, procedure.id, "telemetry");
  const n = Math.max(1, Math.floor((procedure.endMs - procedure.startMs) / intervalMs));
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = procedure.startMs + i * intervalMs;
  const out: TelemetrySeries[] = [];
  const shape = (i: number) => {
    const f = i / n;
    // 0 at rest, 1 in the working pose: a smooth ramp in and out.
    if (f < 0.1) return 0.5 - 0.5 * Math.cos((Math.PI * f) / 0.1);
    if (f > 0.9) return 0.5 + 0.5 * Math.cos((Math.PI * (f - 0.9)) / 0.1);
    return 1;
  };
  for (let a = 1; a <= arms; a++) {
    for (let j = 1; j <= 3; j++) {
      const pose = uniform(random, -60, 60);
      const amplitude = uniform(random, 3, 12);
      const period = uniform(random, 20, 90) * 1000;
      const phase = uniform(random, 0, 2 * Math.PI);
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const motion = amplitude * Math.sin((2 * Math.PI * (times[i]! - procedure.startMs)) / period + phase);
        values[i] = round(shape(i) * (pose + motion) + gaussian(random) * 0.2, 2);
      }
      out.push({ sensor: `arm${a}.joint${j}_deg`, times, values });
    }
    const base = uniform(random, 1.5, 4);
    const force = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const working = procedurePhase(i / n) === "operating";
      const burst = working && random() < 0.05 ? uniform(random, 3, 8) : 0;
      force[i] = round(Math.max(0, (working ? base : 0.3) + burst + gaussian(random) * 0.3), 2);
    }
    out.push({ sensor: `arm${a}.force_n`, times, values: force });
  }
  const zoom = new Float64Array(n);
  const focus = new Float64Array(n);
  const recording = new Float64Array(n);
  let z = 1;
  for (let i = 0; i < n; i++) {
    const working = procedurePhase(i / n) === "operating";
    if (working && random() < 0.02) z = round(uniform(random, 1, 4), 1);
    zoom[i] = working ? z : 1;
    focus[i] = round(working ? uniform(random, 40, 120) : 80, 1);
    recording[i] = working ? 1 : 0;
  }
  out.push({ sensor: "camera.zoom_x", times, values: zoom });
  out.push({ sensor: "camera.focus_mm", times, values: focus });
  out.push({ sensor: "camera.recording", times, values: recording });
  return out;
}

function round(v: number, decimals: number): number {
  const s = 10 ** decimals;
  return Math.round(v * s) / s;
}

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

interface JointMotion {
  pose: number;
  amplitude: number;
  periodMs: number;
  phase: number;
}

/**
 * What a robot's arms and camera report during one procedure: the arms move
 * from rest to their working pose (setup), work around it with the
 * surgeon's motions and tissue forces (operating), and return to rest
 * (closing); the camera records while operating. Deterministic per
 * procedure when sampled at the same times.
 */
export class ProcedureMotion {
  readonly startMs: number;
  readonly endMs: number;
  readonly arms: number;
  private readonly random: () => number;
  private readonly joints: JointMotion[][];
  private readonly forceBase: number[];
  private zoom = 1;

  constructor(robot: string, procedure: Pick<ProcedureEvent, "id" | "startMs" | "endMs">, arms = 3) {
    this.startMs = procedure.startMs;
    this.endMs = procedure.endMs;
    this.arms = arms;
    this.random = randomFor(robot, procedure.id, "telemetry");
    const r = this.random;
    this.joints = Array.from({ length: arms }, () =>
      Array.from({ length: 3 }, () => ({
        pose: uniform(r, -60, 60),
        amplitude: uniform(r, 3, 12),
        periodMs: uniform(r, 20, 90) * 1000,
        phase: uniform(r, 0, 2 * Math.PI),
      })),
    );
    this.forceBase = Array.from({ length: arms }, () => uniform(r, 1.5, 4));
  }

  /** The share of the procedure done at a time, 0 to 1. */
  fraction(tMs: number): number {
    return Math.min(1, Math.max(0, (tMs - this.startMs) / Math.max(1, this.endMs - this.startMs)));
  }

  /** Every telemetry sensor sampled at `times` (ascending, within the procedure). */
  sample(times: Float64Array): TelemetrySeries[] {
    const n = times.length;
    const r = this.random;
    const out: TelemetrySeries[] = [];
    // 0 at rest, 1 in the working pose: a smooth ramp in and out.
    const shape = (f: number) => {
      if (f < 0.1) return 0.5 - 0.5 * Math.cos((Math.PI * f) / 0.1);
      if (f > 0.9) return 0.5 + 0.5 * Math.cos((Math.PI * (f - 0.9)) / 0.1);
      return 1;
    };
    for (let a = 0; a < this.arms; a++) {
      for (let j = 0; j < 3; j++) {
        const m = this.joints[a]![j]!;
        const values = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const t = times[i]!;
          const motion = m.amplitude * Math.sin((2 * Math.PI * (t - this.startMs)) / m.periodMs + m.phase);
          values[i] = round(shape(this.fraction(t)) * (m.pose + motion) + gaussian(r) * 0.2, 2);
        }
        out.push({ sensor: `arm${a + 1}.joint${j + 1}_deg`, times, values });
      }
      const force = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const working = procedurePhase(this.fraction(times[i]!)) === "operating";
        const burst = working && r() < 0.05 ? uniform(r, 3, 8) : 0;
        force[i] = round(Math.max(0, (working ? this.forceBase[a]! : 0.3) + burst + gaussian(r) * 0.3), 2);
      }
      out.push({ sensor: `arm${a + 1}.force_n`, times, values: force });
    }
    const zoom = new Float64Array(n);
    const focus = new Float64Array(n);
    const recording = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const working = procedurePhase(this.fraction(times[i]!)) === "operating";
      if (working && r() < 0.02) this.zoom = round(uniform(r, 1, 4), 1);
      zoom[i] = working ? this.zoom : 1;
      focus[i] = round(working ? uniform(r, 40, 120) : 80, 1);
      recording[i] = working ? 1 : 0;
    }
    out.push({ sensor: "camera.zoom_x", times, values: zoom });
    out.push({ sensor: "camera.focus_mm", times, values: focus });
    out.push({ sensor: "camera.recording", times, values: recording });
    return out;
  }
}

/** A whole procedure's telemetry, one sample every `intervalMs` (the demo seed's sample). */
export function procedureTelemetry(
  robot: string,
  procedure: Pick<ProcedureEvent, "id" | "startMs" | "endMs">,
  intervalMs: number,
  arms = 3,
): TelemetrySeries[] {
  const n = Math.max(1, Math.floor((procedure.endMs - procedure.startMs) / intervalMs));
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = procedure.startMs + i * intervalMs;
  return new ProcedureMotion(robot, procedure, arms).sample(times);
}

function round(v: number, decimals: number): number {
  const s = 10 ** decimals;
  return Math.round(v * s) / s;
}

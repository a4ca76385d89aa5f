import type { ColumnarSeries } from "@vigil/proto";
import {
  codedId,
  gaussian,
  type PartLife,
  PROCEDURE_TYPES,
  ProcedureMotion,
  partValue,
  randomFor,
  siteSurgeons,
  trueCrossingMs,
  uniform,
  wearFraction,
} from "@vigil/robot-sim";
import type { ProcedureRecorder, RecordedOutcome } from "./procedure-recorder.ts";

const DAY_MS = 86_400_000;

export interface RobotBehaviourOptions {
  /** Mean length of a procedure, ms. */
  procedureMs: number;
  /** Mean idle time between procedures, ms. */
  gapMs: number;
  /** Records procedures and maintenance; without one, the robot only streams. */
  recorder?: ProcedureRecorder;
  /** The robot's parts (their wear is the ground truth of the forecasts). */
  parts: PartLife[];
  site?: string;
  now?: () => number;
}

/**
 * The surgical part of a simulated robot: it performs procedures one after
 * another (recorded through ProcedureService: start, end, outcome), streams
 * its arms' and camera's telemetry while it does, and reports its parts'
 * condition as they wear — battery capacity once a day, motor temperature
 * under load and joint torque drift once per procedure. A part worn to its
 * replacement point is replaced (recorded through MaintenanceService), which
 * resets it. The robot's device stream carries all of it in its batches.
 */
export class RobotBehaviour {
  private readonly device: { code: string; number: number };
  private readonly options: RobotBehaviourOptions;
  private readonly random: () => number;
  private readonly now: () => number;
  private parts: PartLife[];
  private procedure:
    | { id: string | undefined; motion: ProcedureMotion; outcome: RecordedOutcome; aborted: boolean }
    | undefined;
  private nextStartMs: number;
  private lastBatteryDay = -1;
  /** Condition readings waiting for the next batch: sensor → [time, value]. */
  private readonly pending = new Map<string, [number, number]>();
  private procedures = 0;

  constructor(device: { code: string; number: number }, options: RobotBehaviourOptions) {
    this.device = device;
    this.options = options;
    this.random = randomFor(device.code, device.number, "live", Date.now());
    this.now = options.now ?? Date.now;
    this.parts = options.parts;
    this.nextStartMs = this.now() + this.options.gapMs * this.random();
  }

  /** Procedures started since the robot started. */
  get proceduresStarted(): number {
    return this.procedures;
  }

  /** True while a procedure is in progress. */
  get inProcedure(): boolean {
    return this.procedure !== undefined;
  }

  /** Ends a procedure in progress (its device stops streaming); a later batch starts afresh. */
  async stop(): Promise<void> {
    const p = this.procedure;
    this.procedure = undefined;
    if (p?.id) await this.options.recorder?.end(p.id, true, { ...p.outcome, result: "aborted" });
  }

  /**
   * The series to add to a batch sampled at `times`: advances the procedure
   * state to the batch's end, then telemetry for the samples inside a
   * procedure and any condition readings due.
   */
  series(times: Float64Array): ColumnarSeries[] {
    if (times.length === 0) return [];
    const end = times[times.length - 1]!;
    this.tick(end);
    const out: ColumnarSeries[] = [];
    const p = this.procedure;
    if (p) {
      const inside = times.filter((t) => t >= p.motion.startMs && t <= p.motion.endMs);
      if (inside.length > 0) out.push(...p.motion.sample(inside));
    }
    for (const [sensor, [t, v]] of this.pending) {
      out.push({ sensor, times: Float64Array.of(Math.min(Math.max(t, times[0]!), end)), values: Float64Array.of(v) });
    }
    this.pending.clear();
    return out;
  }

  private reading(life: PartLife, t: number): void {
    const v = partValue(life, t) + gaussian(this.random) * life.spec.noise;
    this.pending.set(life.sensor, [t, Math.round(v * 100) / 100]);
  }

  private tick(t: number): void {
    const day = Math.floor(t / DAY_MS);
    if (day !== this.lastBatteryDay) {
      this.lastBatteryDay = day;
      const battery = this.parts.find((p) => p.component === "battery");
      if (battery) this.reading(battery, t);
    }
    const p = this.procedure;
    if (p && t >= p.motion.endMs) {
      this.procedure = undefined;
      if (p.id) void this.options.recorder?.end(p.id, p.aborted, p.outcome);
      this.nextStartMs = t + this.options.gapMs * uniform(this.random, 0.5, 1.5);
      this.replaceWornParts(t);
    }
    if (!this.procedure && t >= this.nextStartMs) this.startProcedure(t);
  }

  private startProcedure(t: number): void {
    const r = this.random;
    const duration = this.options.procedureMs * uniform(r, 0.5, 1.5);
    const roll = r();
    const result = roll < 0.9 ? "success" : roll < 0.96 ? "complications" : roll < 0.98 ? "converted" : "aborted";
    const aborted = result === "aborted";
    const endMs = t + (aborted ? duration * uniform(r, 0.1, 0.5) : duration);
    const local = `live-${this.procedures}-${t}`;
    const motion = new ProcedureMotion(`${this.device.code}-${this.device.number}`, { id: local, startMs: t, endMs });
    const outcome: RecordedOutcome = {
      result,
      complicationGrade: result === "complications" ? 1 + Math.floor(r() * 3) : 0,
      bloodLossMl: Math.round(Math.exp(Math.log(50) + 0.6 * gaussian(r))),
      codes: result === "complications" ? ["ssi"] : [],
    };
    const state = { id: undefined as string | undefined, motion, outcome, aborted };
    this.procedure = state;
    this.procedures++;
    const surgeons = siteSurgeons(this.options.site ?? "demo");
    void this.options.recorder
      ?.start(this.device, {
        type: PROCEDURE_TYPES[Math.floor(r() * PROCEDURE_TYPES.length)]!,
        surgeonId: surgeons[Math.floor(r() * surgeons.length)]!,
        patientId: codedId("PT", r),
      })
      .then((id) => {
        state.id = id;
        // Ended before the API answered: close it now.
        if (id && this.procedure !== state) void this.options.recorder?.end(id, aborted, outcome);
      });
    for (const part of this.parts) {
      if (part.component.endsWith(".joint")) this.reading(part, t);
      if (part.component.endsWith(".motor")) this.reading(part, t + (endMs - t) / 2);
    }
  }

  /** Parts at 90 % of their wear are replaced after the procedure (failing ones at once). */
  private replaceWornParts(t: number): void {
    const worn = this.parts.filter((p) => p.ratePerDay > 0 && (wearFraction(p, t) >= 0.9 || trueCrossingMs(p) <= t));
    if (worn.length === 0) return;
    const fails = worn.some((p) => trueCrossingMs(p) <= t);
    const downtimeMs = (fails ? 8 : 2) * 3_600_000;
    this.parts = this.parts.map((p) =>
      worn.includes(p) ? { ...p, installedMs: t + downtimeMs, startValue: p.spec.newValue[0] } : p,
    );
    this.nextStartMs = Math.max(this.nextStartMs, t + downtimeMs);
    void this.options.recorder?.maintenance(this.device, {
      kind: fails ? "corrective" : "preventive",
      startMs: t,
      downtimeMs,
      components: worn.map((p) => p.component),
      parts: worn.map((p) => ({ partNumber: p.spec.partNumber, quantity: 1 })),
      costMinor: worn.reduce((s, p) => s + p.spec.partCostMinor, 0),
      currency: "EUR",
      technician: "tech-sim",
      notes: `simulator: replaced ${worn.map((p) => p.component).join(", ")}`,
    });
  }
}

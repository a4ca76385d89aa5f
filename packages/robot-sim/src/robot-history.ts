import { DAY_MS, newPart, type PartLife, partValue, robotComponents, trueCrossingMs } from "./parts.ts";
import { codedId, gaussian, randomFor, stableUuid, uniform } from "./random.ts";

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** One simulated surgical robot and the habits of its site. */
export interface RobotSpec {
  code: string;
  number: number;
  site: string;
  /** Hours per day the site schedules its robots (the operating day starts 07:00 UTC). */
  availableHoursPerDay: number;
  /** Procedures on a working day, on average (weekends: a sixth of it). */
  proceduresPerDay: number;
  /** When it entered service: the history is simulated from here. */
  commissionedMs: number;
  /** Arms (each with a motor and a joint); 3 by default. */
  arms?: number;
  /** Parts at commissioning; new parts by default. */
  initialParts?: PartLife[];
  /** Replace worn parts (default); false lets parts run on past their thresholds. */
  replaceParts?: boolean;
  /** Share of condition readings that are glitches (default 1 %). */
  glitchRate?: number;
  /** Connectivity outages a year (no readings for 2 to 6 days each; default 2). */
  outagesPerYear?: number;
}

export type OutcomeResult = "success" | "complications" | "converted" | "aborted";

export interface ProcedureEvent {
  id: string;
  startMs: number;
  endMs: number;
  type: string;
  surgeonId: string;
  patientId: string;
  aborted: boolean;
  outcome: { result: OutcomeResult; complicationGrade: number; bloodLossMl: number; codes: string[] };
}

export interface MaintenanceEvent {
  id: string;
  kind: "preventive" | "corrective";
  startMs: number;
  downtimeMs: number;
  components: string[];
  parts: Array<{ partNumber: string; quantity: number }>;
  costMinor: number;
  currency: string;
  technician: string;
  notes: string;
}

/** Condition readings of one sensor, in time order. */
export interface ConditionSeries {
  sensor: string;
  times: number[];
  values: number[];
}

export interface RobotHistory {
  procedures: ProcedureEvent[];
  maintenance: MaintenanceEvent[];
  condition: ConditionSeries[];
  /** The parts in the robot at the end of the range (the ground truth a forecast is judged by). */
  parts: PartLife[];
}

export const PROCEDURE_TYPES = [
  "cholecystectomy",
  "prostatectomy",
  "hysterectomy",
  "hernia_repair",
  "colectomy",
  "nephrectomy",
  "lobectomy",
] as const;

const COMPLICATION_CODES = ["ssi", "bleeding", "ileus", "readmission-30d", "conversion-port"];

/** A site's surgeons: six pseudonymous identifiers, the same on every run. */
export function siteSurgeons(site: string): string[] {
  return Array.from({ length: 6 }, (_, i) => `SURG-${String(seedOfSite(site, i) % 10_000).padStart(4, "0")}`);
}

function seedOfSite(site: string, i: number): number {
  return Math.floor(randomFor("surgeon", site, i)() * 1e9);
}

const dayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

/**
 * Simulates a robot from its commissioning to `toMs` and returns what
 * happened in [fromMs, toMs): procedures with outcomes, maintenance (a
 * quarterly service, random failures, and parts replaced when worn: most
 * before their threshold, some at it, as failures), condition readings
 * (battery capacity nightly on charge; motor temperature under load and
 * joint torque drift once per procedure; with noise, 1 % glitches and
 * connectivity outages) and the parts in place at the end.
 *
 * Every day draws from its own seeded generator, so a day comes out the
 * same whatever range is asked for: a later run over a longer range
 * repeats the earlier one and adds to it.
 */
export function robotHistory(robot: RobotSpec, fromMs: number, toMs: number): RobotHistory {
  const name = `${robot.code}-${robot.number}`;
  const components = robotComponents(robot.arms ?? 3);
  const replace = robot.replaceParts !== false;
  const glitchRate = robot.glitchRate ?? 0.01;
  const outages = outagePeriods(robot, name, toMs);
  const parts = new Map<string, { life: PartLife; cycle: number; replaceAt: number; fails: boolean }>();
  for (const c of components) {
    const given = robot.initialParts?.find((p) => p.component === c.component);
    const life = given ?? newPart(c, robot.commissionedMs, randomFor(name, c.component, 0));
    parts.set(c.component, { life, cycle: 0, ...replacementPlan(name, c.component, 0) });
  }
  const procedures: ProcedureEvent[] = [];
  const maintenance: MaintenanceEvent[] = [];
  const condition = new Map(
    components.map((c) => [c.sensor, { sensor: c.sensor, times: [], values: [] } as ConditionSeries]),
  );
  const surgeons = siteSurgeons(robot.site);
  /** When the robot is out of service: [from, to) in ms, newest last. */
  const downs: Array<[number, number]> = [];
  const inRange = (ms: number) => ms >= fromMs && ms < toMs;
  const offline = (ms: number) => outages.some(([a, b]) => ms >= a && ms < b);

  const reading = (sensor: string, life: PartLife, t: number, random: () => number) => {
    if (!inRange(t) || offline(t)) return;
    let v = partValue(life, t) + gaussian(random) * life.spec.noise;
    if (random() < glitchRate) v = glitch(life, v, random);
    const series = condition.get(sensor)!;
    series.times.push(Math.round(t));
    series.values.push(Math.round(v * 100) / 100);
  };

  const firstDay = dayStart(robot.commissionedMs);
  for (let day = firstDay; day < toMs; day += DAY_MS) {
    const random = randomFor(name, "day", day);
    const dayIndex = Math.round((day - firstDay) / DAY_MS);

    // Parts: worn ones are replaced (preventive), or fail at their threshold (corrective).
    const due: Array<{ component: string; at: number; fails: boolean }> = [];
    for (const [component, p] of parts) {
      if (!replace || p.life.ratePerDay <= 0) continue;
      const crossing = trueCrossingMs(p.life);
      const at = p.fails ? crossing : p.life.installedMs + (crossing - p.life.installedMs) * p.replaceAt;
      if (at < day + DAY_MS) due.push({ component, at: Math.max(at, day), fails: p.fails });
    }
    // A quarterly service at 06:00, and now and then a failure of something else.
    if (dayIndex > 0 && dayIndex % 91 === 0) {
      const start = day + 6 * HOUR_MS;
      const downtime = uniform(random, 2, 4) * HOUR_MS;
      if (inRange(start)) {
        maintenance.push({
          id: stableUuid(name, "maintenance", day, "service"),
          kind: "preventive",
          startMs: start,
          downtimeMs: Math.round(downtime),
          components: [],
          parts: [{ partNumber: "KIT-SVC-Q", quantity: 1 }],
          costMinor: 65_000,
          currency: "EUR",
          technician: `tech-${1 + Math.floor(random() * 12)}`,
          notes: "quarterly service: calibration, cable tension, firmware check",
        });
      }
      downs.push([start, start + downtime]);
    }
    if (random() < 1 / 200) {
      const start = day + uniform(random, 7, 17) * HOUR_MS;
      const downtime = uniform(random, 4, 36) * HOUR_MS;
      if (inRange(start)) {
        maintenance.push({
          id: stableUuid(name, "maintenance", day, "failure"),
          kind: "corrective",
          startMs: Math.round(start),
          downtimeMs: Math.round(downtime),
          components: [],
          parts: [{ partNumber: "PCB-CTRL-7", quantity: 1 }],
          costMinor: 95_000 + Math.round(downtime / HOUR_MS) * 9_500,
          currency: "EUR",
          technician: `tech-${1 + Math.floor(random() * 12)}`,
          notes: "controller fault: board replaced",
        });
      }
      downs.push([start, start + downtime]);
    }

    // The battery's capacity, measured on charge at night.
    const battery = parts.get("battery")!;
    reading("battery.capacity_pct", battery.life, day + uniform(random, 1.5, 2.5) * HOUR_MS, random);

    // Procedures from 07:00, one after another, within the site's hours.
    const weekday = new Date(day).getUTCDay();
    const mean = weekday === 0 || weekday === 6 ? robot.proceduresPerDay / 6 : robot.proceduresPerDay;
    const count = poisson(random, mean);
    let t = day + (7 + uniform(random, 0, 0.75)) * HOUR_MS;
    const closes = day + (7 + robot.availableHoursPerDay) * HOUR_MS;
    const failsAt = Math.min(...due.filter((d) => d.fails).map((d) => d.at));
    for (let i = 0; i < count; i++) {
      const duration = Math.min(5, Math.max(0.75, Math.exp(Math.log(2) + 0.35 * gaussian(random)))) * HOUR_MS;
      for (const [a, b] of downs) if (t < b && t + duration > a) t = b + 30 * MINUTE_MS;
      if (t + duration > Math.min(closes, failsAt)) break;
      const p = procedure(name, day, i, t, duration, surgeons, random);
      if (inRange(p.startMs)) procedures.push(p);
      // Motor temperature under load, mid-procedure; torque drift at the start-up calibration.
      for (const [c, part] of parts) {
        if (c.endsWith(".motor")) reading(part.life.sensor, part.life, t + duration / 2, random);
        if (c.endsWith(".joint")) reading(part.life.sensor, part.life, t + 2 * MINUTE_MS, random);
      }
      t = p.endMs + uniform(random, 30, 60) * MINUTE_MS;
    }

    // Worn parts are swapped after the day's work; a part that fails stops the robot when it does.
    if (due.length > 0) {
      const fails = due.some((d) => d.fails);
      // A failure stops the robot when it happens; a planned replacement waits for the evening.
      const start = fails ? Math.min(...due.filter((d) => d.fails).map((d) => d.at)) : day + 19.5 * HOUR_MS;
      const downtime = fails ? uniform(random, 8, 48) * HOUR_MS : uniform(random, 2, 5) * HOUR_MS;
      const list = due.map((d) => d.component).sort();
      const event: MaintenanceEvent = {
        id: stableUuid(name, "maintenance", day, "parts"),
        kind: fails ? "corrective" : "preventive",
        startMs: Math.round(start),
        downtimeMs: Math.round(downtime),
        components: list,
        parts: list.map((c) => ({ partNumber: parts.get(c)!.life.spec.partNumber, quantity: 1 })),
        costMinor:
          list.reduce((s, c) => s + parts.get(c)!.life.spec.partCostMinor, 0) + Math.round(downtime / HOUR_MS) * 9_500,
        currency: "EUR",
        technician: `tech-${1 + Math.floor(random() * 12)}`,
        notes: fails ? `replaced after failure: ${list.join(", ")}` : `replaced worn: ${list.join(", ")}`,
      };
      if (inRange(event.startMs)) maintenance.push(event);
      downs.push([event.startMs, event.startMs + event.downtimeMs]);
      for (const c of list) {
        const p = parts.get(c)!;
        const cycle = p.cycle + 1;
        const spec = components.find((x) => x.component === c)!;
        parts.set(c, {
          life: newPart(spec, event.startMs + event.downtimeMs, randomFor(name, c, cycle)),
          cycle,
          ...replacementPlan(name, c, cycle),
        });
      }
    }
  }
  return {
    procedures,
    maintenance: maintenance.sort((a, b) => a.startMs - b.startMs),
    condition: [...condition.values()],
    parts: [...parts.values()].map((p) => p.life),
  };
}

/** When a part will be replaced, as a share of its life (preventive), or that it runs to failure (15 %). */
function replacementPlan(robot: string, component: string, cycle: number): { replaceAt: number; fails: boolean } {
  const random = randomFor(robot, component, cycle, "plan");
  return random() < 0.15 ? { replaceAt: 1, fails: true } : { replaceAt: uniform(random, 0.85, 0.97), fails: false };
}

/** A wrong reading: a spike or a dropout, the kind a real sensor gives now and then. */
function glitch(life: PartLife, value: number, random: () => number): number {
  const span = Math.abs(life.spec.kind.threshold - life.startValue);
  return random() < 0.5 ? value + (random() < 0.5 ? -1 : 1) * span * uniform(random, 0.3, 1) : 0;
}

/** Connectivity outages (no readings at all) of 2 to 6 days, about `outagesPerYear` a year. */
function outagePeriods(robot: RobotSpec, name: string, toMs: number): Array<[number, number]> {
  const perYear = robot.outagesPerYear ?? 2;
  const out: Array<[number, number]> = [];
  const random = randomFor(name, "outages");
  let t = robot.commissionedMs;
  while (perYear > 0 && t < toMs) {
    t += (-Math.log(1 - random()) * 365 * DAY_MS) / perYear;
    const length = uniform(random, 2, 6) * DAY_MS;
    out.push([t, t + length]);
    t += length;
  }
  return out;
}

function procedure(
  robot: string,
  day: number,
  index: number,
  startMs: number,
  durationMs: number,
  surgeons: string[],
  random: () => number,
): ProcedureEvent {
  const type = PROCEDURE_TYPES[Math.floor(random() * PROCEDURE_TYPES.length)]!;
  const roll = random();
  const result: OutcomeResult =
    roll < 0.9 ? "success" : roll < 0.96 ? "complications" : roll < 0.98 ? "converted" : "aborted";
  const aborted = result === "aborted";
  const end = aborted ? startMs + durationMs * uniform(random, 0.1, 0.5) : startMs + durationMs;
  const codes =
    result === "complications" ? [COMPLICATION_CODES[Math.floor(random() * COMPLICATION_CODES.length)]!] : [];
  return {
    id: stableUuid(robot, "procedure", day, index),
    startMs: Math.round(startMs),
    endMs: Math.round(end),
    type,
    surgeonId: surgeons[Math.floor(random() * surgeons.length)]!,
    patientId: codedId("PT", random),
    aborted,
    outcome: {
      result,
      complicationGrade: result === "complications" ? 1 + Math.floor(random() * 3) : result === "converted" ? 2 : 0,
      bloodLossMl: Math.round(Math.exp(Math.log(result === "converted" ? 400 : 50) + 0.6 * gaussian(random))),
      codes,
    },
  };
}

/** Knuth's method: fine for the small means of procedures per day. */
function poisson(random: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

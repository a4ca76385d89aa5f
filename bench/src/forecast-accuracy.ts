import { type Database, type Kysely, sql } from "@vigil/db";
import { insertReadings, refreshSeededAggregates } from "@vigil/demo";
import { DAY_MS, type ForecastSettings, listForecasts, recomputeForecasts } from "@vigil/maintenance";
import {
  newPart,
  type PartLife,
  randomFor,
  robotComponents,
  robotHistory,
  stableUuid,
  trueCrossingMs,
  uniform,
} from "@vigil/robot-sim";

/** What a part is doing at the moment the forecasts are computed. */
export type PartCase = "half_way" | "young" | "nearer" | "no_wear";

export interface AccuracyOptions {
  /** Robots in the validation fleet (7 parts each). */
  robots: number;
  /** Distinguishes runs: a run draws its own parts. */
  run: number;
  nowMs: number;
  settings: ForecastSettings;
}

export interface AccuracyResult {
  parts: number;
  /** Parts half-way to their threshold, and those of them with a predicted crossing. */
  halfWay: number;
  halfWayPredicted: number;
  /** Median over half-way parts of |predicted − true remaining| / true remaining (no prediction: counted as ∞). */
  halfWayMedianAbsRelError: number;
  halfWayP90AbsRelError: number;
  /** Share of half-way parts whose true crossing lies within the forecast's interval. */
  halfWayIntervalCoverage: number;
  /** Parts that will not reach their threshold within the horizon, and the share of them flagged due or overdue. */
  healthy: number;
  healthyFlagged: number;
  healthyFlaggedShare: number;
  /** Recomputing every forecast of the fleet. */
  recomputeMs: number;
}

/**
 * Validates the forecasts against the simulator's ground truth. A fleet of
 * simulated robots is written to the database as devices would have sent
 * it — condition readings with noise, glitches and outages, parts replaced
 * (a maintenance record) where they were installed within the data — with
 * every part's wear known: 40 % of the parts exactly half-way to their
 * threshold, the rest healthy (young parts, parts 1.25 to 4 horizons from
 * their threshold, parts that do not wear). The forecasts are then computed
 * from the aggregates as in production and compared with the truth.
 */
export async function measureForecastAccuracy(db: Kysely<Database>, options: AccuracyOptions): Promise<AccuracyResult> {
  const { nowMs, settings } = options;
  const horizonDays = settings.horizonMs / DAY_MS;
  const fromMs = nowMs - settings.windowMs - 7 * DAY_MS;
  const truth = new Map<string, { life: PartLife; case: PartCase }>();
  const code = "VAL";
  const sensors = await sensorIds(
    db,
    robotComponents().map((c) => c.sensor),
  );
  for (let i = 0; i < options.robots; i++) {
    const number = options.run * 10_000 + i + 1;
    const name = `${code}-${number}`;
    const random = randomFor("accuracy", name);
    const parts: PartLife[] = [];
    const cases = new Map<string, PartCase>();
    for (const component of robotComponents()) {
      const roll = random();
      const partCase: PartCase = roll < 0.4 ? "half_way" : roll < 0.7 ? "young" : roll < 0.85 ? "nearer" : "no_wear";
      const life = newPart(component, 0, randomFor("accuracy", name, component.component));
      if (partCase === "no_wear") life.ratePerDay = 0;
      const lifeDays = Math.abs(life.spec.kind.threshold - life.startValue) / Math.max(life.ratePerDay, 1e-9);
      // Where in its life the part is now.
      const remainingDays =
        partCase === "half_way"
          ? lifeDays / 2
          : partCase === "young"
            ? lifeDays * uniform(random, 0.7, 1)
            : partCase === "nearer"
              ? Math.min(lifeDays, horizonDays * uniform(random, 1.25, 4))
              : 0;
      life.installedMs =
        partCase === "no_wear"
          ? nowMs - uniform(random, 30, 400) * DAY_MS
          : nowMs - (lifeDays - remainingDays) * DAY_MS;
      parts.push(life);
      cases.set(component.component, partCase);
      truth.set(`${name}/${component.component}`, { life, case: partCase });
    }
    const device = await db
      .insertInto("devices")
      .values({ code, number, kind: "surgical_robot", site: "validation" })
      .returning("id")
      .executeTakeFirstOrThrow();
    const history = robotHistory(
      {
        code,
        number,
        site: "validation",
        availableHoursPerDay: 12,
        proceduresPerDay: 3,
        commissionedMs: Math.floor((nowMs - 1000 * DAY_MS) / DAY_MS) * DAY_MS,
        initialParts: parts,
        replaceParts: false,
      },
      fromMs,
      nowMs,
    );
    // A part installed within the data replaced another: its record resets the component there,
    // and only its own readings are kept.
    for (const life of parts) {
      if (life.installedMs <= fromMs) continue;
      await db
        .insertInto("maintenance_records")
        .values({
          id: stableUuid(name, life.component, "install"),
          device_id: device.id,
          site: "validation",
          kind: "preventive",
          started_at: new Date(life.installedMs - 3_600_000),
          ended_at: new Date(life.installedMs),
          components: [life.component],
          recorded_by: "system:bench",
        })
        .execute();
    }
    const condition = history.condition.map((series) => {
      const life = parts.find((p) => p.sensor === series.sensor)!;
      const keep = series.times.map((t, k) => [t, series.values[k]!] as const).filter(([t]) => t >= life.installedMs);
      return { sensor: series.sensor, times: keep.map(([t]) => t), values: keep.map(([, v]) => v) };
    });
    await insertReadings(db, device.id, condition, sensors);
  }
  await refreshSeededAggregates(db, fromMs, nowMs, nowMs);
  const started = performance.now();
  await recomputeForecasts(db, settings, { nowMs });
  const recomputeMs = performance.now() - started;

  const forecasts = await listForecasts(db, { limit: 1_000_000 });
  const errors: number[] = [];
  let covered = 0;
  let predicted = 0;
  let healthy = 0;
  let flagged = 0;
  const seen = new Set<string>();
  for (const f of forecasts) {
    const key = `${f.deviceCode}-${f.deviceNumber}/${f.component}`;
    const t = truth.get(key);
    if (!t) continue;
    seen.add(key);
    const trueCrossing = trueCrossingMs(t.life);
    if (t.case === "half_way") {
      const trueRemaining = trueCrossing - nowMs;
      if (f.crossingMs === undefined) {
        errors.push(Number.POSITIVE_INFINITY);
        continue;
      }
      predicted++;
      errors.push(Math.abs(f.crossingMs - nowMs - trueRemaining) / trueRemaining);
      const latest = f.crossingLatestMs ?? Number.POSITIVE_INFINITY;
      if ((f.crossingEarliestMs ?? f.crossingMs) <= trueCrossing && trueCrossing <= latest) covered++;
    } else {
      healthy++;
      if (f.status === "due" || f.status === "overdue") flagged++;
    }
  }
  // A part without a forecast at all (no data) counts against the forecasts too.
  for (const [key, t] of truth) {
    if (seen.has(key)) continue;
    if (t.case === "half_way") errors.push(Number.POSITIVE_INFINITY);
    else healthy++;
  }
  errors.sort((a, b) => a - b);
  const at = (q: number) =>
    errors[Math.min(errors.length - 1, Math.max(0, Math.ceil(q * errors.length) - 1))] ?? Number.NaN;
  return {
    parts: truth.size,
    halfWay: errors.length,
    halfWayPredicted: predicted,
    halfWayMedianAbsRelError: at(0.5),
    halfWayP90AbsRelError: at(0.9),
    halfWayIntervalCoverage: errors.length > 0 ? covered / errors.length : Number.NaN,
    healthy,
    healthyFlagged: flagged,
    healthyFlaggedShare: healthy > 0 ? flagged / healthy : Number.NaN,
    recomputeMs,
  };
}

async function sensorIds(db: Kysely<Database>, names: string[]): Promise<Map<string, number>> {
  for (const name of names) await sql`INSERT INTO sensors (name) VALUES (${name}) ON CONFLICT DO NOTHING`.execute(db);
  const rows = await db.selectFrom("sensors").select(["id", "name"]).where("name", "in", names).execute();
  return new Map(rows.map((r) => [r.name, r.id]));
}

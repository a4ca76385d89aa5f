import {
  createPartitions,
  DAY_MS,
  type Database,
  hasTimescale,
  type Kysely,
  recomputeRollups,
  recordAudit,
  refreshAggregatesNow,
  refreshRollups,
  sql,
} from "@vigil/db";
import { DEFAULT_FORECAST_SETTINGS, type ForecastSettings, recomputeForecasts } from "@vigil/maintenance";
import {
  type ConditionSeries,
  procedureTelemetry,
  type RobotHistory,
  robotComponents,
  robotHistory,
  telemetrySensors,
} from "@vigil/robot-sim";
import { type DemoRobot, type DemoSite, demoRobots, demoSites } from "./demo-fleet.ts";

export interface SeedOptions {
  robots: number;
  sites: number;
  /** Days of history, ending at the start of the current UTC day. */
  days: number;
  /** Device code of the demo robots ("ROB"). */
  code?: string;
  /** Procedures in the last this many days get their arm and camera telemetry (default 2). */
  telemetryDays?: number;
  /** One telemetry sample per sensor this often (default 10 s). */
  telemetryIntervalMs?: number;
  /** Who seeds, for the audit log. */
  actor: string;
  nowMs?: number;
  forecast?: ForecastSettings;
  onProgress?: (progress: SeedProgress) => void;
}

export interface SeedProgress {
  phase: "robots" | "aggregates" | "forecasts";
  done: number;
  total: number;
  /** Rows written so far (robots phase). */
  rows?: number;
}

export interface SeedOutcome {
  from: string;
  to: string;
  sitesCreated: number;
  robotsCreated: number;
  /** Robots whose range an earlier seed already wrote. */
  robotsUpToDate: number;
  procedures: number;
  maintenanceRecords: number;
  conditionReadings: number;
  telemetryReadings: number;
  forecasts: number;
  durationMs: number;
}

/** The label the seed puts on its robots; it refuses to write into any other device. */
export const DEMO_LABEL = { demo: "seed" } as const;
const ROWS_PER_INSERT = 20_000;

/** Thrown when the seed would write into devices it did not create. */
export class SeedError extends Error {
  override name = "SeedError";
}

/**
 * Loads a simulated fleet's history straight into the database: sites,
 * robots (CODE-1..n, labelled demo=seed), their procedures with outcomes,
 * maintenance records, the condition readings the forecasts are fitted to
 * (battery capacity nightly, motor temperature and joint torque drift per
 * procedure) for the whole range, and the arm and camera telemetry of the
 * last `telemetryDays` of procedures; then the aggregates over the range
 * and the forecasts. Not billions of raw readings: two years of full-rate
 * telemetry from fifty robots would be; the aggregates and the condition
 * history are what charts, summaries and forecasts read.
 *
 * Idempotent: ids are derived from the robot and the day, every insert
 * skips what exists, and each robot's finished range is recorded in the
 * audit log (`demo.seed`), so a rerun writes only what is missing: nothing
 * on the same day, the new days on a later one, the rest of a robot an
 * interrupted run left half done.
 */
export async function seedDemo(db: Kysely<Database>, options: SeedOptions): Promise<SeedOutcome> {
  const started = performance.now();
  const nowMs = options.nowMs ?? Date.now();
  const code = options.code ?? "ROB";
  const endMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const startMs = endMs - options.days * DAY_MS;
  const telemetryFrom = endMs - (options.telemetryDays ?? 2) * DAY_MS;
  const telemetryIntervalMs = options.telemetryIntervalMs ?? 10_000;
  const sites = demoSites(options.sites);
  const robots = demoRobots(code, options.robots, sites);
  const outcome: SeedOutcome = {
    from: new Date(startMs).toISOString(),
    to: new Date(endMs).toISOString(),
    sitesCreated: await upsertSites(db, sites, options.actor),
    robotsCreated: 0,
    robotsUpToDate: 0,
    procedures: 0,
    maintenanceRecords: 0,
    conditionReadings: 0,
    telemetryReadings: 0,
    forecasts: 0,
    durationMs: 0,
  };
  const sensorIds = await ensureSensors(db, [...robotComponents().map((c) => c.sensor), ...telemetrySensors()]);
  // Plain PostgreSQL: the days' partitions first, so two years of readings do not pile up in DEFAULT.
  const timescale = await hasTimescale(db);
  if (!timescale) await createPartitions(db, startMs, endMs);
  const covered = await seededRanges(db);
  const deviceIds: number[] = [];
  let rows = 0;
  /** The earliest time this run wrote: the aggregates are brought up to date from there. */
  let writtenFrom = Number.POSITIVE_INFINITY;
  for (const [i, robot] of robots.entries()) {
    const { id, created } = await upsertRobot(db, robot, startMs);
    deviceIds.push(id);
    if (created) outcome.robotsCreated++;
    const label = `${robot.code}-${robot.number}`;
    const done = covered.get(label);
    const from = done && done.from <= startMs ? Math.max(startMs, done.to) : startMs;
    if (from >= endMs) {
      outcome.robotsUpToDate++;
      options.onProgress?.({ phase: "robots", done: i + 1, total: robots.length, rows });
      continue;
    }
    writtenFrom = Math.min(writtenFrom, from);
    const history = robotHistory(robot, from, endMs);
    const counts = await db.transaction().execute(async (tx) => {
      const procedures = await insertProcedures(tx, id, robot.site, history);
      const maintenance = await insertMaintenance(tx, id, robot.site, history, options.actor);
      const condition = await insertCondition(tx, id, history.condition, sensorIds);
      let telemetry = 0;
      for (const p of history.procedures) {
        if (p.startMs < telemetryFrom) continue;
        telemetry += await insertReadings(tx, id, procedureTelemetry(label, p, telemetryIntervalMs), sensorIds);
      }
      await recordAudit(tx, {
        actor: options.actor,
        action: "demo.seed",
        target: `device:${label}`,
        details: {
          from: new Date(done && done.from <= startMs ? done.from : from).toISOString(),
          to: new Date(endMs).toISOString(),
          wrote: { from: new Date(from).toISOString(), procedures, maintenance, condition, telemetry },
        },
      });
      return { procedures, maintenance, condition, telemetry };
    });
    outcome.procedures += counts.procedures;
    outcome.maintenanceRecords += counts.maintenance;
    outcome.conditionReadings += counts.condition;
    outcome.telemetryReadings += counts.telemetry;
    rows += counts.procedures + counts.maintenance + counts.condition + counts.telemetry;
    options.onProgress?.({ phase: "robots", done: i + 1, total: robots.length, rows });
  }
  if (writtenFrom < endMs) {
    options.onProgress?.({ phase: "aggregates", done: 0, total: 1 });
    await refreshAggregates(db, timescale, writtenFrom, endMs, nowMs);
    options.onProgress?.({ phase: "aggregates", done: 1, total: 1 });
  }
  const forecasts = await recomputeForecasts(db, options.forecast ?? DEFAULT_FORECAST_SETTINGS, {
    nowMs,
    deviceIds,
    onProgress: (done, total) => options.onProgress?.({ phase: "forecasts", done, total }),
  });
  outcome.forecasts = forecasts.forecasts;
  outcome.durationMs = Math.round(performance.now() - started);
  return outcome;
}

/** Each demo robot's range written so far, from the audit log's demo.seed entries. */
async function seededRanges(db: Kysely<Database>): Promise<Map<string, { from: number; to: number }>> {
  const rows = await db
    .selectFrom("audit_log")
    .select(["target", "details"])
    .where("action", "=", "demo.seed")
    .execute();
  const out = new Map<string, { from: number; to: number }>();
  for (const r of rows) {
    const d = r.details as { from?: string; to?: string };
    if (!d?.from || !d.to) continue;
    const label = r.target.replace(/^device:/, "");
    const from = Date.parse(d.from);
    const to = Date.parse(d.to);
    const known = out.get(label);
    // Ranges are written contiguously: the union is the earliest start to the latest end.
    out.set(label, known ? { from: Math.min(known.from, from), to: Math.max(known.to, to) } : { from, to });
  }
  return out;
}

async function upsertSites(db: Kysely<Database>, sites: DemoSite[], actor: string): Promise<number> {
  let created = 0;
  for (const site of sites) {
    const row = await db
      .insertInto("sites")
      .values({ name: site.name, display_name: site.displayName, available_hours_per_day: site.availableHoursPerDay })
      .onConflict((oc) => oc.column("name").doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!row) continue;
    created++;
    await recordAudit(db, {
      actor,
      action: "site.create",
      target: `site:${site.name}`,
      details: { displayName: site.displayName, availableHoursPerDay: site.availableHoursPerDay, demo: true },
    });
  }
  return created;
}

/** The robot's device id, registering it (dated from its commissioning) when new. */
async function upsertRobot(
  db: Kysely<Database>,
  robot: DemoRobot,
  startMs: number,
): Promise<{ id: number; created: boolean }> {
  const inserted = await db
    .insertInto("devices")
    .values({
      code: robot.code,
      number: robot.number,
      kind: "surgical_robot",
      model: robot.model,
      manufacturer: robot.manufacturer,
      serial_number: robot.serialNumber,
      firmware: robot.firmware,
      site: robot.site,
      labels: JSON.stringify(DEMO_LABEL),
      created_at: new Date(Math.min(robot.commissionedMs, startMs)),
    })
    .onConflict((oc) => oc.columns(["code", "number"]).doNothing())
    .returning("id")
    .executeTakeFirst();
  if (inserted) return { id: inserted.id, created: true };
  const existing = await db
    .selectFrom("devices")
    .select(["id", "labels", "deleted_at"])
    .where("code", "=", robot.code)
    .where("number", "=", robot.number)
    .executeTakeFirstOrThrow();
  if (existing.labels?.demo !== DEMO_LABEL.demo || existing.deleted_at) {
    throw new SeedError(
      `device ${robot.code}-${robot.number} exists and is not a demo robot (label demo=seed): ` +
        "the seed writes only into robots it made; choose another --code",
    );
  }
  return { id: existing.id, created: false };
}

async function ensureSensors(db: Kysely<Database>, names: string[]): Promise<Map<string, number>> {
  await db
    .insertInto("sensors")
    .values(names.map((name) => ({ name })))
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const rows = await db.selectFrom("sensors").select(["id", "name"]).where("name", "in", names).execute();
  return new Map(rows.map((r) => [r.name, r.id]));
}

async function insertProcedures(tx: Kysely<Database>, deviceId: number, site: string, history: RobotHistory) {
  let written = 0;
  for (let i = 0; i < history.procedures.length; i += 500) {
    const rows = history.procedures.slice(i, i + 500).map((p) => ({
      id: p.id,
      device_id: deviceId,
      site,
      type: p.type,
      surgeon_id: p.surgeonId,
      patient_id: p.patientId,
      started_at: new Date(p.startMs),
      ended_at: new Date(p.endMs),
      state: p.aborted ? "aborted" : "completed",
      outcome_result: p.outcome.result,
      outcome_grade: p.outcome.complicationGrade,
      outcome_blood_loss_ml: p.outcome.bloodLossMl,
      outcome_codes: p.outcome.codes,
      outcome_recorded_at: new Date(p.endMs + 3_600_000),
    }));
    const result = await tx
      .insertInto("procedures")
      .values(rows)
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    written += Number(result.numInsertedOrUpdatedRows ?? 0);
  }
  return written;
}

async function insertMaintenance(
  tx: Kysely<Database>,
  deviceId: number,
  site: string,
  history: RobotHistory,
  actor: string,
) {
  if (history.maintenance.length === 0) return 0;
  const rows = history.maintenance.map((m) => ({
    id: m.id,
    device_id: deviceId,
    site,
    kind: m.kind,
    started_at: new Date(m.startMs),
    ended_at: new Date(m.startMs + m.downtimeMs),
    components: m.components,
    parts: JSON.stringify(m.parts),
    cost_minor: m.costMinor,
    currency: m.currency,
    technician: m.technician,
    notes: m.notes,
    recorded_by: actor,
  }));
  const result = await tx
    .insertInto("maintenance_records")
    .values(rows)
    .onConflict((oc) => oc.column("id").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

function insertCondition(
  tx: Kysely<Database>,
  deviceId: number,
  condition: ConditionSeries[],
  sensorIds: Map<string, number>,
): Promise<number> {
  return insertReadings(tx, deviceId, condition, sensorIds);
}

/**
 * Readings of one device, as the writer stores them (seq 0: no batch
 * carried them), 20,000 per statement, skipping any already stored.
 */
export async function insertReadings(
  tx: Kysely<Database>,
  deviceId: number,
  series: Array<{ sensor: string; times: ArrayLike<number>; values: ArrayLike<number> }>,
  sensorIds: Map<string, number>,
): Promise<number> {
  let times: number[] = [];
  let values: number[] = [];
  let sensors: number[] = [];
  let written = 0;
  const flush = async () => {
    if (times.length === 0) return;
    const { numAffectedRows } = await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT t, x.v, 0, t, ${deviceId}, x.s
      FROM unnest(${times}::float8[], ${values}::float8[], ${sensors}::smallint[]) AS x(ms, v, s),
           LATERAL (SELECT TIMESTAMPTZ 'epoch' + x.ms * INTERVAL '1 millisecond' AS t) AS at
      ON CONFLICT DO NOTHING`.execute(tx);
    written += Number(numAffectedRows ?? 0);
    times = [];
    values = [];
    sensors = [];
  };
  for (const s of series) {
    const sensor = sensorIds.get(s.sensor);
    if (sensor === undefined) throw new Error(`sensor ${s.sensor} is not registered`);
    for (let i = 0; i < s.times.length; i++) {
      times.push(s.times[i]!);
      values.push(s.values[i]!);
      sensors.push(sensor);
      if (times.length >= ROWS_PER_INSERT) await flush();
    }
  }
  await flush();
  return written;
}

/**
 * Brings the 1-minute and 1-hour aggregates over the seeded range up to
 * date, as the lifecycle service would have: TimescaleDB refreshes its
 * continuous aggregates; plain PostgreSQL rolls up everything up to now,
 * and recomputes the range if the rollups were already past it.
 */
export async function refreshSeededAggregates(
  db: Kysely<Database>,
  startMs: number,
  endMs: number,
  nowMs: number,
): Promise<void> {
  await refreshAggregates(db, await hasTimescale(db), startMs, endMs, nowMs);
}

async function refreshAggregates(
  db: Kysely<Database>,
  timescale: boolean,
  startMs: number,
  endMs: number,
  nowMs: number,
): Promise<void> {
  if (timescale) {
    await refreshAggregatesNow(db, startMs, endMs);
    return;
  }
  const { rows } = await sql<{ w: number | null }>`
    SELECT CASE WHEN isfinite(watermark_1m) THEN extract(epoch FROM watermark_1m) * 1000 END::float8 AS w
    FROM rollup_state`.execute(db);
  const before = rows[0]?.w ?? null;
  const span = nowMs - startMs + 2 * DAY_MS;
  await refreshRollups(db, { nowMs, windowMs: span, maxStepMs: span });
  if (before !== null && Number(before) > startMs) await recomputeRollups(db, startMs, endMs);
}

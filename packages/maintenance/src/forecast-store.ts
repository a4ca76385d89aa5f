import { type Database, type Kysely, sql } from "@vigil/db";
import { readConditionSeries } from "./condition-series.ts";
import { type ComponentForecastResult, DAY_MS, type ForecastStatus, forecastComponent } from "./forecast.ts";
import { MaintenanceError } from "./maintenance-errors.ts";

export interface ForecastSettings {
  /** A crossing within this is "due" (FORECAST_HORIZON_DAYS). */
  horizonMs: number;
  /** How far back the trend looks (FORECAST_WINDOW_DAYS). */
  windowMs: number;
  /** Fewest daily points for a trend. */
  minPoints?: number;
}

export const DEFAULT_FORECAST_SETTINGS: Readonly<ForecastSettings> = Object.freeze({
  horizonMs: 30 * DAY_MS,
  windowMs: 90 * DAY_MS,
});

/** A forecast of one component of one robot. */
export interface ComponentForecast extends ComponentForecastResult {
  deviceId: number;
  deviceCode: string;
  deviceNumber: number;
  site: string;
  component: string;
  sensor: string;
  threshold: number;
  failsAbove: boolean;
  lastResetMs?: number;
  computedMs: number;
}

interface DeviceRow {
  id: number;
  code: string;
  number: number;
  site: string;
}

/** Forecasts of the given robots' components, computed from their aggregates now. */
async function computeForecasts(
  db: Kysely<Database>,
  devices: DeviceRow[],
  settings: ForecastSettings,
  nowMs: number,
): Promise<ComponentForecast[]> {
  if (devices.length === 0) return [];
  const byId = new Map(devices.map((d) => [d.id, d]));
  const series = await readConditionSeries(db, { deviceIds: [...byId.keys()], nowMs, windowMs: settings.windowMs });
  return series.map((s) => {
    const device = byId.get(s.deviceId)!;
    const result = forecastComponent(s.points, {
      nowMs,
      horizonMs: settings.horizonMs,
      threshold: s.kind.threshold,
      failsAbove: s.kind.failsAbove,
      minPoints: settings.minPoints,
    });
    return {
      ...result,
      deviceId: s.deviceId,
      deviceCode: device.code,
      deviceNumber: device.number,
      site: device.site,
      component: s.component,
      sensor: s.sensor,
      threshold: s.kind.threshold,
      failsAbove: s.kind.failsAbove,
      lastResetMs: s.resetMs,
      computedMs: nowMs,
    };
  });
}

/** The forecasts of one robot, computed now (nothing is stored); optionally one component. */
export async function forecastDevice(
  db: Kysely<Database>,
  ref: { code: string; number: number },
  settings: ForecastSettings,
  options: { component?: string; nowMs?: number } = {},
): Promise<ComponentForecast[]> {
  const device = await db
    .selectFrom("devices")
    .select(["id", "code", "number", "site"])
    .where("code", "=", ref.code)
    .where("number", "=", ref.number)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!device) throw new MaintenanceError("not_found", `device ${ref.code}-${ref.number} does not exist`);
  const all = await computeForecasts(db, [device], settings, options.nowMs ?? Date.now());
  return all.filter((f) => options.component === undefined || f.component === options.component).sort(byComponent);
}

const byComponent = (a: ComponentForecast, b: ComponentForecast) => (a.component < b.component ? -1 : 1);

export interface RecomputeOutcome {
  devices: number;
  forecasts: number;
  byStatus: Record<ForecastStatus, number>;
  durationMs: number;
}

/**
 * Robots per aggregate query: bounds the rows held in memory at once (a
 * thousand robots' quarter is about 130,000 daily points). Fewer, larger
 * chunks read the hourly rollup fewer times: a robot's rows are spread
 * over the whole table, so each chunk reads most of its pages.
 */
const CHUNK = 1000;

/**
 * Recomputes and stores the forecast of every component of every robot
 * (devices not deleted and not retired; or only `deviceIds`), replacing
 * the previous ones; forecasts of components that no longer report, and of
 * retired or deleted robots, are removed.
 */
export async function recomputeForecasts(
  db: Kysely<Database>,
  settings: ForecastSettings,
  options: { nowMs?: number; deviceIds?: number[]; onProgress?: (done: number, total: number) => void } = {},
): Promise<RecomputeOutcome> {
  const started = performance.now();
  const nowMs = options.nowMs ?? Date.now();
  let q = db
    .selectFrom("devices")
    .select(["id", "code", "number", "site"])
    .where("deleted_at", "is", null)
    .where("status", "<>", "retired");
  if (options.deviceIds) q = q.where("id", "in", options.deviceIds.length > 0 ? options.deviceIds : [-1]);
  const devices = await q.orderBy("id").execute();
  const byStatus: Record<ForecastStatus, number> = { ok: 0, due: 0, overdue: 0, stable: 0, insufficient_data: 0 };
  let stored = 0;
  for (let i = 0; i < devices.length; i += CHUNK) {
    const chunk = devices.slice(i, i + CHUNK);
    const forecasts = await computeForecasts(db, chunk, settings, nowMs);
    await db.transaction().execute(async (tx) => {
      await storeForecasts(tx, forecasts);
      await tx
        .deleteFrom("maintenance_forecasts")
        .where(
          "device_id",
          "in",
          chunk.map((d) => d.id),
        )
        .where("computed_at", "<", new Date(nowMs))
        .execute();
    });
    for (const f of forecasts) byStatus[f.status]++;
    stored += forecasts.length;
    options.onProgress?.(Math.min(i + CHUNK, devices.length), devices.length);
  }
  if (!options.deviceIds) {
    // Robots retired or deleted since the last run.
    await sql`
      DELETE FROM maintenance_forecasts f USING devices d
      WHERE d.id = f.device_id AND (d.deleted_at IS NOT NULL OR d.status = 'retired')`.execute(db);
  }
  return { devices: devices.length, forecasts: stored, byStatus, durationMs: performance.now() - started };
}

const date = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));

async function storeForecasts(db: Kysely<Database>, forecasts: ComponentForecast[]): Promise<void> {
  for (let i = 0; i < forecasts.length; i += 1000) {
    const rows = forecasts.slice(i, i + 1000).map((f) => ({
      device_id: f.deviceId,
      component: f.component,
      sensor: f.sensor,
      threshold: f.threshold,
      fails_above: f.failsAbove,
      status: f.status,
      current_value: f.currentValue ?? null,
      slope_per_day: f.slopePerDay ?? null,
      crossing_at: date(f.crossingMs),
      crossing_earliest: date(f.crossingEarliestMs),
      crossing_latest: date(f.crossingLatestMs),
      last_reset_at: date(f.lastResetMs),
      points: f.points,
      data_start: date(f.dataStartMs),
      data_end: date(f.dataEndMs),
      computed_at: new Date(f.computedMs),
    }));
    await db
      .insertInto("maintenance_forecasts")
      .values(rows)
      .onConflict((oc) =>
        oc.columns(["device_id", "component"]).doUpdateSet((eb) => ({
          sensor: eb.ref("excluded.sensor"),
          threshold: eb.ref("excluded.threshold"),
          fails_above: eb.ref("excluded.fails_above"),
          status: eb.ref("excluded.status"),
          current_value: eb.ref("excluded.current_value"),
          slope_per_day: eb.ref("excluded.slope_per_day"),
          crossing_at: eb.ref("excluded.crossing_at"),
          crossing_earliest: eb.ref("excluded.crossing_earliest"),
          crossing_latest: eb.ref("excluded.crossing_latest"),
          last_reset_at: eb.ref("excluded.last_reset_at"),
          points: eb.ref("excluded.points"),
          data_start: eb.ref("excluded.data_start"),
          data_end: eb.ref("excluded.data_end"),
          computed_at: eb.ref("excluded.computed_at"),
        })),
      )
      .execute();
  }
}

export interface ForecastListOptions {
  site?: string;
  statuses?: ForecastStatus[];
  /** Only forecasts whose crossing interval starts before this. */
  crossingBeforeMs?: number;
  limit: number;
  /** Continue after this forecast (keyset: crossing time or +∞, device id, component). */
  after?: { crossingMs: number | null; deviceId: number; component: string };
}

/** A page of stored forecasts, soonest crossing first; those without one last. */
export async function listForecasts(db: Kysely<Database>, options: ForecastListOptions): Promise<ComponentForecast[]> {
  const soonest = sql<Date>`COALESCE(f.crossing_at, 'infinity')`;
  let q = db
    .selectFrom("maintenance_forecasts as f")
    .innerJoin("devices as d", "d.id", "f.device_id")
    .selectAll("f")
    .select(["d.code", "d.number", "d.site"])
    .where("d.deleted_at", "is", null);
  if (options.site !== undefined) q = q.where("d.site", "=", options.site);
  if (options.statuses && options.statuses.length > 0) q = q.where("f.status", "in", options.statuses);
  if (options.crossingBeforeMs !== undefined) {
    q = q.where("f.crossing_earliest", "<", new Date(options.crossingBeforeMs));
  }
  const after = options.after;
  if (after) {
    const at =
      after.crossingMs === null
        ? sql<Date>`'infinity'::timestamptz`
        : sql<Date>`${new Date(after.crossingMs)}::timestamptz`;
    q = q.where(sql<boolean>`(${soonest}, f.device_id, f.component) > (${at}, ${after.deviceId}, ${after.component})`);
  }
  const rows = await q.orderBy(soonest).orderBy("f.device_id").orderBy("f.component").limit(options.limit).execute();
  const ms = (d: Date | null) => (d ? d.getTime() : undefined);
  return rows.map((r) => ({
    deviceId: r.device_id,
    deviceCode: r.code,
    deviceNumber: r.number,
    site: r.site,
    component: r.component,
    sensor: r.sensor,
    threshold: r.threshold,
    failsAbove: r.fails_above,
    status: r.status as ForecastStatus,
    currentValue: r.current_value ?? undefined,
    slopePerDay: r.slope_per_day ?? undefined,
    crossingMs: ms(r.crossing_at),
    crossingEarliestMs: ms(r.crossing_earliest),
    crossingLatestMs: ms(r.crossing_latest),
    lastResetMs: ms(r.last_reset_at),
    points: r.points,
    dataStartMs: ms(r.data_start),
    dataEndMs: ms(r.data_end),
    computedMs: r.computed_at.getTime(),
  }));
}

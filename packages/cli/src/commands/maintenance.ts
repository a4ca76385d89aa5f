import {
  DAY_MS,
  type ForecastStatus,
  forecastDevice,
  forecastSettings,
  listForecasts,
  listMaintenanceRecords,
  type MaintenanceKind,
  recomputeForecasts,
  recordMaintenance,
} from "@vigil/maintenance";
import { parseDuration } from "@vigil/runtime";
import { intFlag, parseFlags, stringFlag } from "../args.ts";
import type { CliContext } from "../cli-context.ts";
import { UsageError } from "../usage-error.ts";
import { dateFlag } from "./sites.ts";

export const MAINTENANCE_USAGE = `vigil maintenance record --code CODE --number N --kind preventive|corrective --start DATE [--downtime 4h]
                           [--component battery|armN.motor|armN.joint ...] [--part NUMBER[:QTY] ...]
                           [--cost 1250.00 --currency EUR] [--technician ID] [--notes TEXT]
      the components named are reset: their forecasts start again
  vigil maintenance list [--code CODE [--number N]] [--site S] [--kind K] [--component C] [--from DATE] [--to DATE] [--limit N]
  vigil maintenance forecast --code CODE --number N      every component of a robot, computed now
  vigil maintenance forecasts [--site S] [--status due|overdue|ok|stable|insufficient_data ...] [--within 30d] [--limit N]
  vigil maintenance recompute                           recompute and store every robot's forecasts now
Forecast settings: FORECAST_HORIZON_DAYS (30), FORECAST_WINDOW_DAYS (90).`;

const STATUSES: readonly ForecastStatus[] = ["ok", "due", "overdue", "stable", "insufficient_data"];

/** `vigil maintenance …` */
export async function maintenanceCommand(
  ctx: CliContext,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<unknown> {
  const [action, ...rest] = args;
  const settings = forecastSettings({
    FORECAST_HORIZON_DAYS: envDays(env.FORECAST_HORIZON_DAYS, 30),
    FORECAST_WINDOW_DAYS: envDays(env.FORECAST_WINDOW_DAYS, 90),
  });
  const db = ctx.database.db;
  switch (action) {
    case "record": {
      const v = parseFlags(
        rest,
        {
          code: { type: "string" },
          number: { type: "string" },
          kind: { type: "string" },
          start: { type: "string" },
          downtime: { type: "string" },
          component: { type: "string", multiple: true },
          part: { type: "string", multiple: true },
          cost: { type: "string" },
          currency: { type: "string" },
          technician: { type: "string" },
          notes: { type: "string" },
        },
        MAINTENANCE_USAGE,
      );
      if (v.kind !== "preventive" && v.kind !== "corrective") {
        throw new UsageError(`--kind must be preventive or corrective\n${MAINTENANCE_USAGE}`);
      }
      const downtimeMs = v.downtime === undefined ? 0 : parseDuration(v.downtime);
      if (downtimeMs === undefined)
        throw new UsageError(`--downtime must look like 90m, 4h or 2d\n${MAINTENANCE_USAGE}`);
      const cost = v.cost === undefined ? 0 : Math.round(Number(v.cost) * 100);
      if (!Number.isSafeInteger(cost) || cost < 0)
        throw new UsageError(`--cost must be an amount such as 1250.00\n${MAINTENANCE_USAGE}`);
      const record = await recordMaintenance(
        { db, actor: ctx.actor },
        {
          deviceCode: stringFlag(v.code, "code", MAINTENANCE_USAGE),
          deviceNumber: intFlag(v.number, "number", MAINTENANCE_USAGE),
          kind: v.kind as MaintenanceKind,
          startMs: dateFlag(v.start, "start", MAINTENANCE_USAGE),
          downtimeMs,
          components: v.component ?? [],
          parts: (v.part ?? []).map((p) => {
            const [partNumber = "", qty] = p.split(":");
            return { partNumber, quantity: qty === undefined ? 1 : Number(qty) };
          }),
          costMinor: cost,
          currency: v.currency,
          technician: v.technician,
          notes: v.notes,
        },
      );
      if (record.components.length > 0) await recomputeForecasts(db, settings, { deviceIds: [record.deviceId] });
      const { deviceId: _id, ...printable } = record;
      return printable;
    }
    case "list": {
      const v = parseFlags(
        rest,
        {
          code: { type: "string" },
          number: { type: "string" },
          site: { type: "string" },
          kind: { type: "string" },
          component: { type: "string" },
          from: { type: "string" },
          to: { type: "string" },
          limit: { type: "string" },
        },
        MAINTENANCE_USAGE,
      );
      if (v.kind !== undefined && v.kind !== "preventive" && v.kind !== "corrective") {
        throw new UsageError(`--kind must be preventive or corrective\n${MAINTENANCE_USAGE}`);
      }
      const records = await listMaintenanceRecords(db, {
        deviceCode: v.code,
        deviceNumber: v.number === undefined ? undefined : intFlag(v.number, "number", MAINTENANCE_USAGE),
        site: v.site,
        kind: v.kind as MaintenanceKind | undefined,
        component: v.component,
        startMs: v.from === undefined ? undefined : dateFlag(v.from, "from", MAINTENANCE_USAGE),
        endMs: v.to === undefined ? undefined : dateFlag(v.to, "to", MAINTENANCE_USAGE),
        limit: v.limit === undefined ? 100 : intFlag(v.limit, "limit", MAINTENANCE_USAGE, 1, 100_000),
      });
      return records.map(({ deviceId: _id, ...r }) => r);
    }
    case "forecast": {
      const v = parseFlags(rest, { code: { type: "string" }, number: { type: "string" } }, MAINTENANCE_USAGE);
      const forecasts = await forecastDevice(
        db,
        { code: stringFlag(v.code, "code", MAINTENANCE_USAGE), number: intFlag(v.number, "number", MAINTENANCE_USAGE) },
        settings,
      );
      return forecasts.map(printableForecast);
    }
    case "forecasts": {
      const v = parseFlags(
        rest,
        {
          site: { type: "string" },
          status: { type: "string", multiple: true },
          within: { type: "string" },
          limit: { type: "string" },
        },
        MAINTENANCE_USAGE,
      );
      for (const s of v.status ?? []) {
        if (!(STATUSES as readonly string[]).includes(s))
          throw new UsageError(`--status must be ${STATUSES.join(", ")}`);
      }
      const within = v.within === undefined ? undefined : parseDuration(v.within);
      if (v.within !== undefined && within === undefined)
        throw new UsageError(`--within must look like 30d\n${MAINTENANCE_USAGE}`);
      const forecasts = await listForecasts(db, {
        site: v.site,
        statuses: v.status as ForecastStatus[] | undefined,
        crossingBeforeMs: within === undefined ? undefined : Date.now() + within,
        limit: v.limit === undefined ? 100 : intFlag(v.limit, "limit", MAINTENANCE_USAGE, 1, 100_000),
      });
      return forecasts.map(printableForecast);
    }
    case "recompute": {
      parseFlags(rest, {}, MAINTENANCE_USAGE);
      const outcome = await recomputeForecasts(db, settings);
      return { ...outcome, durationMs: Math.round(outcome.durationMs) };
    }
    default:
      throw new UsageError(`unknown maintenance command ${action ?? "(none)"}\n${MAINTENANCE_USAGE}`);
  }
}

function envDays(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650)
    throw new UsageError("FORECAST_*_DAYS must be whole days from 1 to 3650");
  return n;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function printableForecast(f: Awaited<ReturnType<typeof forecastDevice>>[number]) {
  return {
    device: `${f.deviceCode}-${f.deviceNumber}`,
    site: f.site,
    component: f.component,
    status: f.status,
    crossing: iso(f.crossingMs),
    crossingEarliest: iso(f.crossingEarliestMs),
    crossingLatest: iso(f.crossingLatestMs),
    daysToCrossing:
      f.crossingMs === undefined ? undefined : Math.round(((f.crossingMs - f.computedMs) / DAY_MS) * 10) / 10,
    currentValue: f.currentValue,
    threshold: f.threshold,
    slopePerDay: f.slopePerDay,
    points: f.points,
    lastReset: iso(f.lastResetMs),
    sensor: f.sensor,
  };
}

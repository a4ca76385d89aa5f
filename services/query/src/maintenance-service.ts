import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Database, Kysely } from "@vigil/db";
import {
  COMPONENT_PATTERN,
  type ComponentForecast,
  type ForecastSettings,
  type ForecastStatus,
  forecastDevice,
  getMaintenanceRecord,
  listForecasts,
  listMaintenanceRecords,
  type MaintenanceKind,
  type MaintenanceRecordView,
  recomputeForecasts,
  recordMaintenance,
} from "@vigil/maintenance";
import {
  type ComponentForecast as ComponentForecastMessage,
  ComponentForecastSchema,
  ForecastStatus as ForecastStatusEnum,
  MaintenanceKind as MaintenanceKindEnum,
  type MaintenanceRecord,
  MaintenanceRecordSchema,
  type MaintenanceService,
} from "@vigil/proto";
import type { Logger } from "@vigil/runtime";
import { actorOf, traceIdOf } from "./auth/principal.ts";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";
import { checkedMs } from "./reading-filter.ts";

export interface MaintenanceServiceDeps {
  db: Kysely<Database>;
  settings: ForecastSettings;
  log: Logger;
}

const KINDS: Record<MaintenanceKind, MaintenanceKindEnum> = {
  preventive: MaintenanceKindEnum.PREVENTIVE,
  corrective: MaintenanceKindEnum.CORRECTIVE,
};

const STATUSES: Record<ForecastStatus, ForecastStatusEnum> = {
  ok: ForecastStatusEnum.OK,
  due: ForecastStatusEnum.DUE,
  overdue: ForecastStatusEnum.OVERDUE,
  stable: ForecastStatusEnum.STABLE,
  insufficient_data: ForecastStatusEnum.INSUFFICIENT_DATA,
};

const DEVICE_CODE = /^[A-Z]{1,16}$/;
const MAX_WITHIN_MS = 3650 * 86_400_000;

/** vigil.maintenance.v1.MaintenanceService: the maintenance log and forecasts, audited. */
export function maintenanceService(deps: MaintenanceServiceDeps): ServiceImpl<typeof MaintenanceService> {
  const actor = (ctx: HandlerContext) => ({ db: deps.db, actor: actorOf(ctx), traceId: traceIdOf(ctx) });
  return {
    async recordMaintenance(req, ctx) {
      const r = req.record;
      if (!r) throw new InvalidArgumentError("record", "is required");
      if (!DEVICE_CODE.test(r.deviceCode))
        throw new InvalidArgumentError("record.device_code", "must be 1 to 16 capital letters");
      if (r.deviceNumber < 1) throw new InvalidArgumentError("record.device_number", "is required");
      const kind = (Object.keys(KINDS) as MaintenanceKind[]).find((k) => KINDS[k] === r.kind);
      if (!kind) throw new InvalidArgumentError("record.kind", "must be preventive or corrective");
      if (!r.startTime) throw new InvalidArgumentError("record.start_time", "is required");
      const record = await recordMaintenance(actor(ctx), {
        deviceCode: r.deviceCode,
        deviceNumber: r.deviceNumber,
        kind,
        startMs: checkedMs(r.startTime, "record.start_time"),
        downtimeMs: r.downtime ? durationMs(r.downtime) : 0,
        components: r.components,
        parts: r.parts.map((p) => ({ partNumber: p.partNumber, quantity: p.quantity })),
        costMinor: Number(r.costMinor),
        currency: r.currency,
        technician: r.technician,
        notes: r.notes,
      });
      if (record.components.length > 0) {
        // The components start again from zero: their stored forecasts follow at once.
        await recomputeForecasts(deps.db, deps.settings, { deviceIds: [record.deviceId] }).catch((err) =>
          deps.log.warn({ err }, "forecasts after a maintenance record not recomputed; the next run will"),
        );
      }
      return { record: toRecord(record) };
    },
    async getMaintenanceRecord(req) {
      if (!req.id) throw new InvalidArgumentError("id", "is required");
      return { record: toRecord(await getMaintenanceRecord(deps.db, req.id)) };
    },
    async listMaintenanceRecords(req) {
      const limit = checkedPageSize(req.pageSize);
      if (req.deviceCode && !DEVICE_CODE.test(req.deviceCode)) {
        throw new InvalidArgumentError("device_code", "must be 1 to 16 capital letters");
      }
      if (req.component && !COMPONENT_PATTERN.test(req.component)) {
        throw new InvalidArgumentError("component", "must be battery or arm<1-9>.motor|joint");
      }
      if (req.site.length > 200) throw new InvalidArgumentError("site", "must be at most 200 characters");
      const kind = (Object.keys(KINDS) as MaintenanceKind[]).find((k) => KINDS[k] === req.kind);
      const startMs = req.startTime ? checkedMs(req.startTime, "start_time") : undefined;
      const endMs = req.endTime ? checkedMs(req.endTime, "end_time") : undefined;
      if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
        throw new InvalidArgumentError("start_time", "must not be after end_time");
      }
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isStartCursor) : undefined;
      const rows = await listMaintenanceRecords(deps.db, {
        deviceCode: req.deviceCode || undefined,
        deviceNumber: req.deviceNumber,
        site: req.site || undefined,
        kind,
        component: req.component || undefined,
        startMs,
        endMs,
        limit: limit + 1,
        after: cursor && { startMs: cursor.t, id: cursor.id },
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        records: page.map(toRecord),
        nextPageToken:
          rows.length > limit && last ? encodeCursor({ t: last.startedAt.getTime(), id: last.id }, req) : "",
      };
    },
    async getMaintenanceForecast(req) {
      if (!DEVICE_CODE.test(req.deviceCode))
        throw new InvalidArgumentError("device_code", "must be 1 to 16 capital letters");
      if (req.deviceNumber < 1) throw new InvalidArgumentError("device_number", "is required");
      if (req.component && !COMPONENT_PATTERN.test(req.component)) {
        throw new InvalidArgumentError("component", "must be battery or arm<1-9>.motor|joint");
      }
      const forecasts = await forecastDevice(
        deps.db,
        { code: req.deviceCode, number: req.deviceNumber },
        deps.settings,
        { component: req.component || undefined },
      );
      return { forecasts: forecasts.map(toForecast) };
    },
    async listMaintenanceForecasts(req) {
      const limit = checkedPageSize(req.pageSize);
      if (req.site.length > 200) throw new InvalidArgumentError("site", "must be at most 200 characters");
      const statuses = req.statuses.map((s) => {
        const found = (Object.keys(STATUSES) as ForecastStatus[]).find((k) => STATUSES[k] === s);
        if (!found) throw new InvalidArgumentError("statuses", "unknown status");
        return found;
      });
      let crossingBeforeMs: number | undefined;
      if (req.within) {
        const within = durationMs(req.within);
        if (!(within >= 0 && within <= MAX_WITHIN_MS))
          throw new InvalidArgumentError("within", "must be from 0 to 3650 days");
        crossingBeforeMs = Date.now() + within;
      }
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isForecastCursor) : undefined;
      const rows = await listForecasts(deps.db, {
        site: req.site || undefined,
        statuses,
        crossingBeforeMs,
        limit: limit + 1,
        after: cursor && { crossingMs: cursor.t, deviceId: cursor.d, component: cursor.c },
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        forecasts: page.map(toForecast),
        nextPageToken:
          rows.length > limit && last
            ? encodeCursor({ t: last.crossingMs ?? null, d: last.deviceId, c: last.component }, req)
            : "",
      };
    },
  };
}

function isStartCursor(c: unknown): c is { t: number; id: string } {
  return hasIntegers(c, "t") && typeof (c as { id?: unknown }).id === "string";
}

function isForecastCursor(c: unknown): c is { t: number | null; d: number; c: string } {
  const v = c as { t?: unknown; c?: unknown };
  return hasIntegers(c, "d") && typeof v.c === "string" && (v.t === null || Number.isSafeInteger(v.t));
}

const ts = (ms: number | undefined) => (ms === undefined ? undefined : timestampFromMs(Math.round(ms)));

function toRecord(r: MaintenanceRecordView): MaintenanceRecord {
  return create(MaintenanceRecordSchema, {
    id: r.id,
    deviceCode: r.deviceCode,
    deviceNumber: r.deviceNumber,
    site: r.site,
    kind: KINDS[r.kind],
    startTime: timestampFromMs(r.startedAt.getTime()),
    downtime: durationFromMs(r.endedAt.getTime() - r.startedAt.getTime()),
    components: r.components,
    parts: r.parts,
    costMinor: BigInt(r.costMinor),
    currency: r.currency,
    technician: r.technician,
    notes: r.notes,
    createTime: timestampFromMs(r.createdAt.getTime()),
    recordedBy: r.recordedBy,
  });
}

function toForecast(f: ComponentForecast): ComponentForecastMessage {
  return create(ComponentForecastSchema, {
    deviceCode: f.deviceCode,
    deviceNumber: f.deviceNumber,
    site: f.site,
    component: f.component,
    sensor: f.sensor,
    threshold: f.threshold,
    failsAbove: f.failsAbove,
    status: STATUSES[f.status],
    currentValue: f.currentValue ?? 0,
    slopePerDay: f.slopePerDay ?? 0,
    crossingTime: ts(f.crossingMs),
    crossingTimeEarliest: ts(f.crossingEarliestMs),
    crossingTimeLatest: ts(f.crossingLatestMs),
    lastResetTime: ts(f.lastResetMs),
    points: f.points,
    dataStartTime: ts(f.dataStartMs),
    dataEndTime: ts(f.dataEndMs),
    computeTime: ts(f.computedMs),
  });
}

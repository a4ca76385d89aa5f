import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Database, Kysely } from "@vigil/db";
import {
  endProcedure,
  getProcedure,
  listProcedures,
  type OutcomeResult,
  PROCEDURE_TYPE_PATTERN,
  type ProcedureState,
  type ProcedureView,
  procedureReadings,
  procedureSensorStats,
  recordOutcome,
  startProcedure,
} from "@vigil/procedures";
import {
  OutcomeResult as OutcomeResultEnum,
  type Procedure,
  ProcedureSchema,
  type ProcedureService,
  ProcedureState as ProcedureStateEnum,
  TelemetrySource,
} from "@vigil/proto";
import { actorOf, traceIdOf } from "./auth/principal.ts";
import { InvalidArgumentError } from "./errors.ts";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";
import { checkedMs } from "./reading-filter.ts";

export interface ProcedureServiceDeps {
  db: Kysely<Database>;
}

const STATES: Record<ProcedureState, ProcedureStateEnum> = {
  in_progress: ProcedureStateEnum.IN_PROGRESS,
  completed: ProcedureStateEnum.COMPLETED,
  aborted: ProcedureStateEnum.ABORTED,
};

const RESULTS: Record<OutcomeResult, OutcomeResultEnum> = {
  success: OutcomeResultEnum.SUCCESS,
  complications: OutcomeResultEnum.COMPLICATIONS,
  converted: OutcomeResultEnum.CONVERTED,
  aborted: OutcomeResultEnum.ABORTED,
};

const DEVICE_CODE = /^[A-Z]{1,16}$/;
const SENSOR = /^[a-z][a-z0-9_.]{0,63}$/;

/** vigil.procedures.v1.ProcedureService: procedures, outcomes and their telemetry, audited. */
export function procedureService(deps: ProcedureServiceDeps): ServiceImpl<typeof ProcedureService> {
  const actor = (ctx: HandlerContext) => ({ db: deps.db, actor: actorOf(ctx), traceId: traceIdOf(ctx) });
  return {
    async startProcedure(req, ctx) {
      device(req.deviceCode, req.deviceNumber);
      const procedure = await startProcedure(actor(ctx), {
        deviceCode: req.deviceCode,
        deviceNumber: req.deviceNumber,
        type: req.type,
        surgeonId: req.surgeonId,
        patientId: req.patientId,
        startMs: req.startTime ? checkedMs(req.startTime, "start_time") : undefined,
      });
      return { procedure: toProcedure(procedure) };
    },
    async endProcedure(req, ctx) {
      const procedure = await endProcedure(actor(ctx), required(req.id, "id"), {
        endMs: req.endTime ? checkedMs(req.endTime, "end_time") : undefined,
        aborted: req.aborted,
      });
      return { procedure: toProcedure(procedure) };
    },
    async getProcedure(req) {
      return { procedure: toProcedure(await getProcedure(deps.db, required(req.id, "id"))) };
    },
    async listProcedures(req) {
      const limit = checkedPageSize(req.pageSize);
      if (req.deviceCode && !DEVICE_CODE.test(req.deviceCode)) {
        throw new InvalidArgumentError("device_code", "must be 1 to 16 capital letters");
      }
      if (req.type && !PROCEDURE_TYPE_PATTERN.test(req.type))
        throw new InvalidArgumentError("type", "is not a procedure type");
      if (req.site.length > 200) throw new InvalidArgumentError("site", "must be at most 200 characters");
      if (req.surgeonId.length > 64) throw new InvalidArgumentError("surgeon_id", "must be at most 64 characters");
      const startMs = req.startTime ? checkedMs(req.startTime, "start_time") : undefined;
      const endMs = req.endTime ? checkedMs(req.endTime, "end_time") : undefined;
      if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
        throw new InvalidArgumentError("start_time", "must not be after end_time");
      }
      const state = (Object.keys(STATES) as ProcedureState[]).find((k) => STATES[k] === req.state);
      if (req.state !== ProcedureStateEnum.UNSPECIFIED && !state) throw new InvalidArgumentError("state", "unknown");
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isStartCursor) : undefined;
      const rows = await listProcedures(deps.db, {
        deviceCode: req.deviceCode || undefined,
        deviceNumber: req.deviceNumber,
        site: req.site || undefined,
        type: req.type || undefined,
        surgeonId: req.surgeonId || undefined,
        state,
        startMs,
        endMs,
        limit: limit + 1,
        after: cursor && { startMs: cursor.t, id: cursor.id },
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        procedures: page.map(toProcedure),
        nextPageToken:
          rows.length > limit && last ? encodeCursor({ t: last.startedAt.getTime(), id: last.id }, req) : "",
      };
    },
    async recordOutcome(req, ctx) {
      const o = req.outcome;
      if (!o) throw new InvalidArgumentError("outcome", "is required");
      const result = (Object.keys(RESULTS) as OutcomeResult[]).find((k) => RESULTS[k] === o.result);
      if (!result) throw new InvalidArgumentError("outcome.result", "is required");
      const procedure = await recordOutcome(actor(ctx), required(req.id, "id"), {
        result,
        complicationGrade: o.complicationGrade,
        bloodLossMl: o.bloodLossMl,
        codes: o.codes,
      });
      return { procedure: toProcedure(procedure) };
    },
    async getProcedureTelemetry(req) {
      const limit = checkedPageSize(req.pageSize);
      if (req.sensor && !SENSOR.test(req.sensor))
        throw new InvalidArgumentError("sensor", `must match ${SENSOR.source}`);
      const procedure = await getProcedure(deps.db, required(req.id, "id"));
      const startMs = procedure.startedAt.getTime();
      // The window of a procedure in progress ends now; of an ended one, at its end (inclusive).
      const endMs = procedure.endedAt ? procedure.endedAt.getTime() + 1 : Date.now() + 1;
      const window = { deviceId: procedure.deviceId, startMs, endMs, sensor: req.sensor || undefined };
      const cursor = req.pageToken ? decodeCursor(req.pageToken, req, isReadingCursor) : undefined;
      const [stats, rows] = await Promise.all([
        cursor ? undefined : procedureSensorStats(deps.db, window),
        procedureReadings(deps.db, window, {
          limit: limit + 1,
          after: cursor && { timeMs: cursor.t, sensorId: cursor.s },
        }),
      ]);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        procedure: toProcedure(procedure),
        startTime: timestampFromMs(startMs),
        endTime: timestampFromMs(endMs - 1),
        source:
          stats === undefined
            ? TelemetrySource.UNSPECIFIED
            : stats.source === "raw"
              ? TelemetrySource.RAW
              : TelemetrySource.AGGREGATES,
        sensors: stats?.sensors.map((s) => ({ ...s, count: BigInt(s.count) })) ?? [],
        readings: page.map((r) => ({ sensor: r.sensor, time: timestampFromMs(r.timeMs), value: r.value })),
        nextPageToken: rows.length > limit && last ? encodeCursor({ t: last.timeMs, s: last.sensorId }, req) : "",
      };
    },
  };
}

function required(value: string, field: string): string {
  if (!value) throw new InvalidArgumentError(field, "is required");
  return value;
}

function device(code: string, number: number): void {
  if (!DEVICE_CODE.test(code)) throw new InvalidArgumentError("device_code", "must be 1 to 16 capital letters");
  if (number < 1) throw new InvalidArgumentError("device_number", "is required");
}

function isStartCursor(c: unknown): c is { t: number; id: string } {
  return hasIntegers(c, "t") && typeof (c as { id?: unknown }).id === "string";
}

const isReadingCursor = (c: unknown): c is { t: number; s: number } => hasIntegers(c, "t", "s");

function toProcedure(p: ProcedureView): Procedure {
  const endMs = p.endedAt ? p.endedAt.getTime() : Date.now();
  return create(ProcedureSchema, {
    id: p.id,
    deviceCode: p.deviceCode,
    deviceNumber: p.deviceNumber,
    site: p.site,
    type: p.type,
    surgeonId: p.surgeonId,
    patientId: p.patientId,
    startTime: timestampFromMs(p.startedAt.getTime()),
    endTime: p.endedAt ? timestampFromMs(p.endedAt.getTime()) : undefined,
    duration: durationFromMs(Math.max(0, endMs - p.startedAt.getTime())),
    state: STATES[p.state],
    outcome: p.outcome && {
      result: RESULTS[p.outcome.result],
      complicationGrade: p.outcome.complicationGrade,
      bloodLossMl: p.outcome.bloodLossMl,
      codes: p.outcome.codes,
      recordTime: p.outcome.recordedAt ? timestampFromMs(p.outcome.recordedAt.getTime()) : undefined,
    },
  });
}

import { randomUUID } from "node:crypto";
import { type Database, type Kysely, recordAudit } from "@vigil/db";
import { ProcedureError } from "./procedure-errors.ts";
import { pseudonymProblem } from "./pseudonym.ts";

export type ProcedureState = "in_progress" | "completed" | "aborted";
export type OutcomeResult = "success" | "complications" | "converted" | "aborted";

export interface Outcome {
  result: OutcomeResult;
  /** Clavien-Dindo 0 to 5. */
  complicationGrade: number;
  bloodLossMl: number;
  codes: string[];
  recordedAt?: Date;
}

export interface ProcedureView {
  id: string;
  deviceId: number;
  deviceCode: string;
  deviceNumber: number;
  site: string;
  type: string;
  surgeonId: string;
  patientId: string;
  startedAt: Date;
  endedAt: Date | null;
  state: ProcedureState;
  outcome?: Outcome;
}

export interface ActorContext {
  db: Kysely<Database>;
  /** "user:<name>", "cli:<os user>", "system:<service>". */
  actor: string;
  traceId?: string;
  /** "Now", for tests and the seed; the clock otherwise. */
  nowMs?: number;
}

export interface NewProcedure {
  deviceCode: string;
  deviceNumber: number;
  type: string;
  surgeonId: string;
  patientId: string;
  /** Now when undefined. */
  startMs?: number;
}

/** How far ahead of the server's clock a time may be. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
const EARLIEST_MS = Date.UTC(2000, 0, 1);
export const PROCEDURE_TYPE_PATTERN = /^[a-z][a-z0-9_]{1,63}$/;
const OUTCOME_CODE = /^[a-z0-9][a-z0-9-]{0,31}$/;
const OUTCOME_RESULTS: readonly OutcomeResult[] = ["success", "complications", "converted", "aborted"];

function checkedTime(ms: number | undefined, nowMs: number, field: string): number {
  if (ms === undefined) return nowMs;
  if (!Number.isFinite(ms) || ms < EARLIEST_MS) throw new ProcedureError("invalid", `${field} is out of range`);
  if (ms > nowMs + MAX_FUTURE_SKEW_MS) throw new ProcedureError("invalid", `${field} must not be in the future`);
  return ms;
}

/**
 * Opens a procedure on a robot (not deleted), audited. A robot performs one
 * procedure at a time: a second start while one is in progress is refused.
 */
export async function startProcedure(ctx: ActorContext, input: NewProcedure): Promise<ProcedureView> {
  const nowMs = ctx.nowMs ?? Date.now();
  if (!PROCEDURE_TYPE_PATTERN.test(input.type)) {
    throw new ProcedureError("invalid", `type must match ${PROCEDURE_TYPE_PATTERN.source}`);
  }
  for (const [field, value] of [
    ["surgeon_id", input.surgeonId],
    ["patient_id", input.patientId],
  ] as const) {
    const problem = pseudonymProblem(value);
    if (problem) throw new ProcedureError("invalid", `${field} ${problem}`);
  }
  const startMs = checkedTime(input.startMs, nowMs, "start_time");
  const id = randomUUID();
  await ctx.db.transaction().execute(async (tx) => {
    const device = await tx
      .selectFrom("devices")
      .select(["id", "site", "deleted_at"])
      .where("code", "=", input.deviceCode)
      .where("number", "=", input.deviceNumber)
      .forUpdate()
      .executeTakeFirst();
    if (!device || device.deleted_at) {
      throw new ProcedureError("not_found", `device ${input.deviceCode}-${input.deviceNumber} does not exist`);
    }
    const open = await tx
      .selectFrom("procedures")
      .select("id")
      .where("device_id", "=", device.id)
      .where("ended_at", "is", null)
      .executeTakeFirst();
    if (open) {
      throw new ProcedureError(
        "failed_precondition",
        `device ${input.deviceCode}-${input.deviceNumber} is in procedure ${open.id}: end it first`,
      );
    }
    await tx
      .insertInto("procedures")
      .values({
        id,
        device_id: device.id,
        site: device.site,
        type: input.type,
        surgeon_id: input.surgeonId,
        patient_id: input.patientId,
        started_at: new Date(startMs),
        ended_at: null,
        state: "in_progress",
        outcome_result: null,
        outcome_grade: null,
        outcome_blood_loss_ml: null,
        outcome_recorded_at: null,
      })
      .execute();
    // The audit names the procedure, never the patient.
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "procedure.start",
      target: `procedure:${id}`,
      details: { device: `${input.deviceCode}-${input.deviceNumber}`, type: input.type, startTime: iso(startMs) },
      traceId: ctx.traceId,
    });
  });
  return getProcedure(ctx.db, id);
}

/** Closes a procedure in progress, as completed or aborted. */
export async function endProcedure(
  ctx: ActorContext,
  id: string,
  options: { endMs?: number; aborted?: boolean } = {},
): Promise<ProcedureView> {
  const nowMs = ctx.nowMs ?? Date.now();
  const endMs = checkedTime(options.endMs, nowMs, "end_time");
  await ctx.db.transaction().execute(async (tx) => {
    const row = await lockProcedure(tx, id);
    if (row.ended_at) throw new ProcedureError("failed_precondition", `procedure ${id} has already ended`);
    if (endMs < row.started_at.getTime()) {
      throw new ProcedureError("invalid", "end_time must not be before the procedure's start_time");
    }
    const state: ProcedureState = options.aborted ? "aborted" : "completed";
    await tx
      .updateTable("procedures")
      .set({ ended_at: new Date(endMs), state })
      .where("id", "=", id)
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "procedure.end",
      target: `procedure:${id}`,
      details: { endTime: iso(endMs), state },
      traceId: ctx.traceId,
    });
  });
  return getProcedure(ctx.db, id);
}

/** Why an outcome cannot be recorded, or undefined. */
export function outcomeProblem(outcome: Outcome): string | undefined {
  if (!OUTCOME_RESULTS.includes(outcome.result)) return `outcome.result must be one of ${OUTCOME_RESULTS.join(", ")}`;
  if (!Number.isInteger(outcome.complicationGrade) || outcome.complicationGrade < 0 || outcome.complicationGrade > 5) {
    return "outcome.complication_grade must be from 0 to 5";
  }
  if (!Number.isInteger(outcome.bloodLossMl) || outcome.bloodLossMl < 0 || outcome.bloodLossMl > 100_000) {
    return "outcome.blood_loss_ml must be from 0 to 100000";
  }
  if (outcome.codes.length > 16) return "outcome.codes: at most 16";
  for (const code of outcome.codes) {
    if (!OUTCOME_CODE.test(code)) return "outcome.codes must be lower-case letters, digits and '-', up to 32 each";
  }
  return undefined;
}

/** Sets (or corrects) the outcome of an ended procedure; every version is in the audit log. */
export async function recordOutcome(ctx: ActorContext, id: string, outcome: Outcome): Promise<ProcedureView> {
  const problem = outcomeProblem(outcome);
  if (problem) throw new ProcedureError("invalid", problem);
  const codes = [...new Set(outcome.codes)].sort();
  await ctx.db.transaction().execute(async (tx) => {
    const row = await lockProcedure(tx, id);
    if (!row.ended_at) throw new ProcedureError("failed_precondition", `procedure ${id} is still in progress`);
    await tx
      .updateTable("procedures")
      .set({
        outcome_result: outcome.result,
        outcome_grade: outcome.complicationGrade,
        outcome_blood_loss_ml: outcome.bloodLossMl,
        outcome_codes: codes,
        outcome_recorded_at: new Date(ctx.nowMs ?? Date.now()),
      })
      .where("id", "=", id)
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "procedure.outcome",
      target: `procedure:${id}`,
      details: {
        result: outcome.result,
        complicationGrade: outcome.complicationGrade,
        bloodLossMl: outcome.bloodLossMl,
        codes,
        ...(row.outcome_result
          ? { previous: { result: row.outcome_result, complicationGrade: row.outcome_grade, codes: row.outcome_codes } }
          : {}),
      },
      traceId: ctx.traceId,
    });
  });
  return getProcedure(ctx.db, id);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function notFound(id: string): ProcedureError {
  return new ProcedureError("not_found", `procedure ${JSON.stringify(id.slice(0, 64))} does not exist`);
}

async function lockProcedure(tx: Kysely<Database>, id: string) {
  if (!UUID.test(id)) throw notFound(id);
  const row = await tx.selectFrom("procedures").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
  if (!row) throw notFound(id);
  return row;
}

function procedures(db: Kysely<Database>) {
  return db
    .selectFrom("procedures as p")
    .innerJoin("devices as d", "d.id", "p.device_id")
    .selectAll("p")
    .select(["d.code", "d.number"]);
}

type ProcedureRow = Awaited<ReturnType<ReturnType<typeof procedures>["execute"]>>[number];

function toView(r: ProcedureRow): ProcedureView {
  return {
    id: r.id,
    deviceId: r.device_id,
    deviceCode: r.code,
    deviceNumber: r.number,
    site: r.site,
    type: r.type,
    surgeonId: r.surgeon_id,
    patientId: r.patient_id,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    state: r.state as ProcedureState,
    ...(r.outcome_result
      ? {
          outcome: {
            result: r.outcome_result as OutcomeResult,
            complicationGrade: r.outcome_grade ?? 0,
            bloodLossMl: r.outcome_blood_loss_ml ?? 0,
            codes: r.outcome_codes,
            recordedAt: r.outcome_recorded_at ?? undefined,
          },
        }
      : {}),
  };
}

/** One procedure; NotFound when there is none with this id. */
export async function getProcedure(db: Kysely<Database>, id: string): Promise<ProcedureView> {
  if (!UUID.test(id)) throw notFound(id);
  const row = await procedures(db).where("p.id", "=", id).executeTakeFirst();
  if (!row) throw notFound(id);
  return toView(row);
}

export interface ProcedureListOptions {
  deviceCode?: string;
  deviceNumber?: number;
  site?: string;
  type?: string;
  surgeonId?: string;
  state?: ProcedureState;
  /** Procedures that started in [startMs, endMs). */
  startMs?: number;
  endMs?: number;
  limit: number;
  /** Continue after this procedure (keyset on start time, id; newest first). */
  after?: { startMs: number; id: string };
}

/** A page of procedures, newest start first. */
export async function listProcedures(db: Kysely<Database>, options: ProcedureListOptions): Promise<ProcedureView[]> {
  let q = procedures(db);
  if (options.deviceCode !== undefined) q = q.where("d.code", "=", options.deviceCode);
  if (options.deviceNumber !== undefined) q = q.where("d.number", "=", options.deviceNumber);
  if (options.site !== undefined) q = q.where("p.site", "=", options.site);
  if (options.type !== undefined) q = q.where("p.type", "=", options.type);
  if (options.surgeonId !== undefined) q = q.where("p.surgeon_id", "=", options.surgeonId);
  if (options.state !== undefined) q = q.where("p.state", "=", options.state);
  if (options.startMs !== undefined) q = q.where("p.started_at", ">=", new Date(options.startMs));
  if (options.endMs !== undefined) q = q.where("p.started_at", "<", new Date(options.endMs));
  const after = options.after;
  if (after) {
    q = q.where((eb) => eb(eb.refTuple("p.started_at", "p.id"), "<", eb.tuple(new Date(after.startMs), after.id)));
  }
  const rows = await q.orderBy("p.started_at", "desc").orderBy("p.id", "desc").limit(options.limit).execute();
  return rows.map(toView);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

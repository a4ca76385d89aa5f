import { randomUUID } from "node:crypto";
import { type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import { COMPONENT_PATTERN } from "./components.ts";
import { MaintenanceError } from "./maintenance-errors.ts";

export type MaintenanceKind = "preventive" | "corrective";

export interface MaintenancePart {
  partNumber: string;
  quantity: number;
}

export interface NewMaintenanceRecord {
  deviceCode: string;
  deviceNumber: number;
  kind: MaintenanceKind;
  startMs: number;
  downtimeMs: number;
  components?: string[];
  parts?: MaintenancePart[];
  costMinor?: number;
  currency?: string;
  technician?: string;
  notes?: string;
  /** Set by the demo seed for idempotent reruns; a random UUID otherwise. */
  id?: string;
}

export interface MaintenanceRecordView {
  id: string;
  deviceId: number;
  deviceCode: string;
  deviceNumber: number;
  site: string;
  kind: MaintenanceKind;
  startedAt: Date;
  endedAt: Date;
  components: string[];
  parts: MaintenancePart[];
  costMinor: number;
  currency: string;
  technician: string;
  notes: string;
  recordedBy: string;
  createdAt: Date;
}

export interface ActorContext {
  db: Kysely<Database>;
  /** "user:<name>", "cli:<os user>", "system:<service>". */
  actor: string;
  traceId?: string;
  /** "Now", for tests and the seed; the clock otherwise. */
  nowMs?: number;
}

const DAY_MS = 86_400_000;
/** How far ahead of the server's clock a time may be. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
const MAX_DOWNTIME_MS = 365 * DAY_MS;
const PART_NUMBER = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;
const TECHNICIAN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const CURRENCY = /^[A-Z]{3}$/;
const MAX_COST_MINOR = 100_000_000_000;
const MAX_PARTS = 100;
const MAX_NOTES = 2000;

/** Why a record cannot be stored, or undefined. */
export function recordProblem(input: NewMaintenanceRecord, nowMs: number): string | undefined {
  if (input.kind !== "preventive" && input.kind !== "corrective") return "kind must be preventive or corrective";
  if (!Number.isFinite(input.startMs) || input.startMs < Date.UTC(2000, 0, 1)) return "start_time is required";
  if (input.startMs > nowMs + MAX_FUTURE_SKEW_MS) return "start_time must not be in the future";
  if (!Number.isFinite(input.downtimeMs) || input.downtimeMs < 0 || input.downtimeMs > MAX_DOWNTIME_MS) {
    return "downtime must be from 0 to 365 days";
  }
  const components = input.components ?? [];
  if (components.length > 32) return "at most 32 components";
  for (const c of components) {
    if (!COMPONENT_PATTERN.test(c))
      return `component ${JSON.stringify(c.slice(0, 64))} must be battery or arm<1-9>.motor|joint`;
  }
  const parts = input.parts ?? [];
  if (parts.length > MAX_PARTS) return `at most ${MAX_PARTS} parts`;
  for (const p of parts) {
    if (!PART_NUMBER.test(p.partNumber)) return "part_number must be 1 to 64 letters, digits, '.', '_', '/', '-'";
    if (!Number.isInteger(p.quantity) || p.quantity < 1 || p.quantity > 1000) return "quantity must be from 1 to 1000";
  }
  const cost = input.costMinor ?? 0;
  if (!Number.isSafeInteger(cost) || cost < 0 || cost > MAX_COST_MINOR) return "cost_minor must be from 0 to 10^11";
  if (cost > 0 && !CURRENCY.test(input.currency ?? "")) return "currency must be an ISO 4217 code such as EUR";
  if (input.currency && !CURRENCY.test(input.currency)) return "currency must be an ISO 4217 code such as EUR";
  if (input.technician && !TECHNICIAN.test(input.technician)) {
    return "technician must be 1 to 64 letters, digits, '.', '_', '@', '-'";
  }
  const notes = input.notes ?? "";
  if (notes.length > MAX_NOTES) return `notes must be at most ${MAX_NOTES} characters`;
  // Line breaks and tabs are fine in notes; other control characters garble logs and terminals.
  if (/[\p{Cc}--[\n\t]]/v.test(notes)) return "notes must not contain control characters";
  return undefined;
}

/**
 * Stores a maintenance record of a robot (not deleted), audited. The
 * components it lists are reset as of its end (start + downtime).
 */
export async function recordMaintenance(
  ctx: ActorContext,
  input: NewMaintenanceRecord,
): Promise<MaintenanceRecordView> {
  const nowMs = ctx.nowMs ?? Date.now();
  const problem = recordProblem(input, nowMs);
  if (problem) throw new MaintenanceError("invalid", problem);
  const id = input.id ?? randomUUID();
  const components = [...new Set(input.components ?? [])].sort();
  await ctx.db.transaction().execute(async (tx) => {
    const device = await tx
      .selectFrom("devices")
      .select(["id", "site", "deleted_at"])
      .where("code", "=", input.deviceCode)
      .where("number", "=", input.deviceNumber)
      .executeTakeFirst();
    if (!device || device.deleted_at) {
      throw new MaintenanceError("not_found", `device ${input.deviceCode}-${input.deviceNumber} does not exist`);
    }
    await tx
      .insertInto("maintenance_records")
      .values({
        id,
        device_id: device.id,
        site: device.site,
        kind: input.kind,
        started_at: new Date(input.startMs),
        ended_at: new Date(input.startMs + input.downtimeMs),
        components,
        parts: JSON.stringify(input.parts ?? []),
        cost_minor: input.costMinor ?? 0,
        currency: input.currency ?? "",
        technician: input.technician ?? "",
        notes: input.notes ?? "",
        recorded_by: ctx.actor,
      })
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "maintenance.record",
      target: `device:${input.deviceCode}-${input.deviceNumber}`,
      details: {
        id,
        kind: input.kind,
        startTime: new Date(input.startMs).toISOString(),
        downtimeMs: input.downtimeMs,
        components,
        parts: input.parts ?? [],
        costMinor: input.costMinor ?? 0,
        currency: input.currency ?? "",
        technician: input.technician ?? "",
      },
      traceId: ctx.traceId,
    });
  });
  return getMaintenanceRecord(ctx.db, id);
}

function records(db: Kysely<Database>) {
  return db
    .selectFrom("maintenance_records as m")
    .innerJoin("devices as d", "d.id", "m.device_id")
    .select([
      "m.id",
      "m.device_id",
      "d.code",
      "d.number",
      "m.site",
      "m.kind",
      "m.started_at",
      "m.ended_at",
      "m.components",
      "m.parts",
      "m.cost_minor",
      "m.currency",
      "m.technician",
      "m.notes",
      "m.recorded_by",
      "m.created_at",
    ]);
}

type RecordRow = Awaited<ReturnType<ReturnType<typeof records>["execute"]>>[number];

function toView(r: RecordRow): MaintenanceRecordView {
  return {
    id: r.id,
    deviceId: r.device_id,
    deviceCode: r.code,
    deviceNumber: r.number,
    site: r.site,
    kind: r.kind as MaintenanceKind,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    components: r.components,
    parts: r.parts,
    costMinor: Number(r.cost_minor),
    currency: r.currency,
    technician: r.technician,
    notes: r.notes,
    recordedBy: r.recorded_by,
    createdAt: r.created_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One record; NotFound when there is none with this id. */
export async function getMaintenanceRecord(db: Kysely<Database>, id: string): Promise<MaintenanceRecordView> {
  const row = UUID.test(id) ? await records(db).where("m.id", "=", id).executeTakeFirst() : undefined;
  if (!row)
    throw new MaintenanceError("not_found", `maintenance record ${JSON.stringify(id.slice(0, 64))} does not exist`);
  return toView(row);
}

export interface MaintenanceListOptions {
  deviceCode?: string;
  deviceNumber?: number;
  site?: string;
  kind?: MaintenanceKind;
  component?: string;
  startMs?: number;
  endMs?: number;
  limit: number;
  /** Continue after this record (keyset on start time, id; newest first). */
  after?: { startMs: number; id: string };
}

/** A page of records, newest start first. */
export async function listMaintenanceRecords(
  db: Kysely<Database>,
  options: MaintenanceListOptions,
): Promise<MaintenanceRecordView[]> {
  let q = records(db);
  if (options.deviceCode !== undefined) q = q.where("d.code", "=", options.deviceCode);
  if (options.deviceNumber !== undefined) q = q.where("d.number", "=", options.deviceNumber);
  if (options.site !== undefined) q = q.where("m.site", "=", options.site);
  if (options.kind !== undefined) q = q.where("m.kind", "=", options.kind);
  if (options.component !== undefined) q = q.where(sql<boolean>`m.components @> ARRAY[${options.component}]::text[]`);
  if (options.startMs !== undefined) q = q.where("m.started_at", ">=", new Date(options.startMs));
  if (options.endMs !== undefined) q = q.where("m.started_at", "<", new Date(options.endMs));
  const after = options.after;
  if (after) {
    q = q.where((eb) => eb(eb.refTuple("m.started_at", "m.id"), "<", eb.tuple(new Date(after.startMs), after.id)));
  }
  const rows = await q.orderBy("m.started_at", "desc").orderBy("m.id", "desc").limit(options.limit).execute();
  return rows.map(toView);
}

import { type AlertsTable, type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import type { Selectable } from "kysely";
import { AlertError } from "./alert-error.ts";
import { enqueueDeliveries } from "./delivery-store.ts";
import type { ActorContext } from "./rule-store.ts";

export type AlertState = "firing" | "acknowledged" | "resolved";

/** An alert with its rule's and device's names. */
export interface AlertView {
  id: number;
  ruleId: number;
  ruleName: string;
  kind: string;
  severity: string;
  state: AlertState;
  device: { code: string; number: number } | undefined;
  sensor: string;
  summary: string;
  startedAt: Date;
  firedAt: Date;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  ackComment: string | null;
  resolvedAt: Date | null;
  resolveReason: string | null;
  /** [time ms, value] of the readings that fired it. */
  values: Array<[number, number]>;
  details: Record<string, unknown>;
  updatedAt: Date;
  version: number;
  silenced: boolean;
}

/** An alert a detector (or another service) raises. */
export interface FireTransition {
  type: "fire";
  ruleId: number;
  deviceId: number | null;
  sensor: string;
  /** Event time of the first reading that fired it. */
  startedAtMs: number;
  severity: string;
  summary: string;
  values: Array<[number, number]>;
  details: Record<string, unknown>;
}

/** The end of an open alert. */
export interface ResolveTransition {
  type: "resolve";
  ruleId: number;
  deviceId: number | null;
  sensor: string;
  /** Event time of the reading that resolved it. */
  resolvedAtMs: number;
  reason: string;
  /** For logs: what resolved, such as "MON-1 patient.spo2_pct" (not stored). */
  label?: string;
}

export type Transition = FireTransition | ResolveTransition;

/** What applying transitions changed. */
export interface AppliedTransitions {
  fired: number[];
  resolved: number[];
  deliveries: number;
  /** Per transition, in order: whether it changed anything (false: a repeat). */
  changed: boolean[];
}

const MAX_VALUES = 20;

/**
 * Writes transitions in the caller's transaction, idempotently: a fire that
 * names an occurrence already stored (same rule, device, sensor and start)
 * or meets an open alert of the same rule, device and sensor inserts
 * nothing; a resolve only ends an open alert. Deliveries are queued for the
 * rule's channels only for what this call changed, so a replay after a
 * crash notifies nobody twice.
 */
export async function applyTransitions(
  tx: Kysely<Database>,
  transitions: Transition[],
  options: { deliveryDeadlineMs: number },
): Promise<AppliedTransitions> {
  const out: AppliedTransitions = { fired: [], resolved: [], deliveries: 0, changed: [] };
  for (const t of transitions) {
    if (t.type === "fire") {
      const inserted = await sql<{ id: number }>`
        INSERT INTO alerts (rule_id, device_id, sensor, severity, state, summary, started_at, "values", details)
        VALUES (${t.ruleId}, ${t.deviceId}, ${t.sensor}, ${t.severity}, 'firing', ${t.summary},
                ${new Date(t.startedAtMs)}, ${JSON.stringify(t.values.slice(0, MAX_VALUES))}, ${JSON.stringify(t.details)})
        ON CONFLICT DO NOTHING
        RETURNING id`.execute(tx);
      const id = inserted.rows[0]?.id;
      out.changed.push(id !== undefined);
      if (id === undefined) continue;
      out.fired.push(Number(id));
      out.deliveries += await enqueueDeliveries(tx, Number(id), "fired", options.deliveryDeadlineMs);
    } else {
      const ended = await tx
        .updateTable("alerts")
        .set({
          state: "resolved",
          resolved_at: new Date(t.resolvedAtMs),
          resolve_reason: t.reason,
          updated_at: new Date(),
          version: sql`version + 1` as never,
        })
        .where("rule_id", "=", t.ruleId)
        .where(sql`COALESCE(device_id, 0)`, "=", t.deviceId ?? 0)
        .where("sensor", "=", t.sensor)
        .where("state", "<>", "resolved")
        .returning("id")
        .execute();
      out.changed.push(ended.length > 0);
      for (const row of ended) {
        out.resolved.push(Number(row.id));
        out.deliveries += await enqueueDeliveries(tx, Number(row.id), "resolved", options.deliveryDeadlineMs);
      }
    }
  }
  return out;
}

/** Open alerts of the given rules on the given devices, for an alerter taking over a partition. */
export async function openAlertKeys(
  db: Kysely<Database>,
  deviceIds: number[],
): Promise<Array<{ ruleId: number; deviceId: number; sensor: string; startedAt: Date }>> {
  if (deviceIds.length === 0) return [];
  const rows = await db
    .selectFrom("alerts")
    .select(["rule_id", "device_id", "sensor", "started_at"])
    .where("state", "<>", "resolved")
    .where("device_id", "in", deviceIds)
    .execute();
  return rows.map((r) => ({
    ruleId: Number(r.rule_id),
    deviceId: Number(r.device_id),
    sensor: r.sensor,
    startedAt: r.started_at,
  }));
}

/**
 * Open (firing or acknowledged) alerts per device, for the fleet summary's open_alerts; devices
 * without any are left out. One statement, the ids as one array parameter.
 */
export async function openAlertCounts(db: Kysely<Database>, deviceIds: number[]): Promise<Map<number, number>> {
  if (deviceIds.length === 0) return new Map();
  const { rows } = await sql<{ device_id: number; n: number }>`
    SELECT device_id, count(*)::int AS n FROM alerts
    WHERE state <> 'resolved' AND device_id = ANY(${deviceIds}::int[])
    GROUP BY device_id`.execute(db);
  return new Map(rows.map((r) => [Number(r.device_id), Number(r.n)]));
}

export interface AlertFilter {
  states?: AlertState[];
  severities?: string[];
  ruleId?: number;
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  startMs?: number;
  endMs?: number;
}

function baseQuery(db: Kysely<Database>) {
  return db
    .selectFrom("alerts as a")
    .innerJoin("alert_rules as r", "r.id", "a.rule_id")
    .leftJoin("devices as d", "d.id", "a.device_id")
    .selectAll("a")
    .select(["r.name as rule_name", "r.kind as rule_kind", "r.source as rule_source", "d.code", "d.number"])
    .select(
      sql<boolean>`EXISTS (
        SELECT 1 FROM silences s
        WHERE s.starts_at <= now() AND s.ends_at > now()
          AND (s.rule_id IS NULL OR s.rule_id = a.rule_id)
          AND (s.device_code IS NULL OR s.device_code = d.code)
          AND (s.device_number IS NULL OR s.device_number = d.number)
          AND (s.sensor IS NULL OR s.sensor = a.sensor)
          AND (s.max_severity IS NULL OR array_position(ARRAY['info','warning','critical'], a.severity)
                                        <= array_position(ARRAY['info','warning','critical'], s.max_severity)))`.as(
        "silenced",
      ),
    );
}

type Row = Selectable<AlertsTable> & {
  rule_name: string;
  rule_kind: string;
  rule_source: string | null;
  code: string | null;
  number: number | null;
  silenced: boolean;
};

/** Alerts newest first (by start, then id), after the cursor. */
export async function listAlerts(
  db: Kysely<Database>,
  filter: AlertFilter,
  page: { limit: number; before?: { startedAtMs: number; id: number } },
): Promise<AlertView[]> {
  let q = baseQuery(db);
  if (filter.states?.length) q = q.where("a.state", "in", filter.states);
  if (filter.severities?.length) q = q.where("a.severity", "in", filter.severities);
  if (filter.ruleId) q = q.where("a.rule_id", "=", filter.ruleId);
  if (filter.deviceCode) q = q.where("d.code", "=", filter.deviceCode);
  if (filter.deviceNumber !== undefined) q = q.where("d.number", "=", filter.deviceNumber);
  if (filter.sensor) q = q.where("a.sensor", "=", filter.sensor);
  if (filter.startMs !== undefined) q = q.where("a.started_at", ">=", new Date(filter.startMs));
  if (filter.endMs !== undefined) q = q.where("a.started_at", "<", new Date(filter.endMs));
  if (page.before) {
    const b = page.before;
    q = q.where(sql<boolean>`(a.started_at, a.id) < (${new Date(b.startedAtMs)}, ${b.id})`);
  }
  const rows = await q.orderBy("a.started_at", "desc").orderBy("a.id", "desc").limit(page.limit).execute();
  return rows.map((r) => toView(r as Row));
}

export async function getAlert(db: Kysely<Database>, id: number): Promise<AlertView> {
  const row = await baseQuery(db).where("a.id", "=", id).executeTakeFirst();
  if (!row) throw new AlertError("not_found", `alert ${id} not found`);
  return toView(row as Row);
}

/** Alerts changed since a time (for live watches), oldest change first. */
export async function alertsChangedSince(db: Kysely<Database>, since: Date, limit: number): Promise<AlertView[]> {
  const rows = await baseQuery(db).where("a.updated_at", ">", since).orderBy("a.updated_at").limit(limit).execute();
  return rows.map((r) => toView(r as Row));
}

/** Acknowledges a firing alert (a second acknowledgement is refused). */
export async function acknowledgeAlert(ctx: ActorContext, id: number, comment: string): Promise<AlertView> {
  if (comment.length > 1_000) throw new AlertError("invalid", "comment: at most 1000 characters");
  await ctx.db.transaction().execute(async (tx) => {
    const current = await tx.selectFrom("alerts").select(["state"]).where("id", "=", id).executeTakeFirst();
    if (!current) throw new AlertError("not_found", `alert ${id} not found`);
    if (current.state !== "firing") {
      throw new AlertError(
        "failed_precondition",
        `alert ${id} is ${current.state}, only a firing alert is acknowledged`,
      );
    }
    await tx
      .updateTable("alerts")
      .set({
        state: "acknowledged",
        acknowledged_at: new Date(),
        acknowledged_by: ctx.actor,
        ack_comment: comment,
        updated_at: new Date(),
        version: sql`version + 1` as never,
      })
      .where("id", "=", id)
      .execute();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "alert.acknowledge",
      target: `alert:${id}`,
      details: { comment },
      traceId: ctx.traceId,
    });
  });
  return getAlert(ctx.db, id);
}

function toView(r: Row): AlertView {
  return {
    id: Number(r.id),
    ruleId: Number(r.rule_id),
    ruleName: r.rule_name,
    kind: r.rule_kind === "external" ? (r.rule_source ?? "external") : r.rule_kind,
    severity: r.severity,
    state: r.state,
    device: r.code !== null && r.number !== null ? { code: r.code, number: r.number } : undefined,
    sensor: r.sensor,
    summary: r.summary,
    startedAt: r.started_at,
    firedAt: r.fired_at,
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by,
    ackComment: r.ack_comment,
    resolvedAt: r.resolved_at,
    resolveReason: r.resolve_reason,
    values: r.values ?? [],
    details: r.details ?? {},
    updatedAt: r.updated_at,
    version: Number(r.version),
    silenced: r.silenced === true && r.state !== "resolved",
  };
}

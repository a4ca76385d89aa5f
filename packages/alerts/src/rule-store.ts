import { type AlertRulesTable, type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import type { Selectable } from "kysely";
import { AlertError } from "./alert-error.ts";
import { type Condition, type Rule, type RuleSpec, type Severity, validateRuleSpec } from "./rule-model.ts";

/** Who is acting, for the audit log. */
export interface ActorContext {
  db: Kysely<Database>;
  /** "user:<name>", "cli:<os user>", "system:<service>". */
  actor: string;
  traceId?: string;
}

type RuleRow = Selectable<AlertRulesTable>;

/** Creates a rule after validating it; its channels must exist. */
export async function createRule(ctx: ActorContext, input: RuleSpec): Promise<Rule> {
  const spec = validateRuleSpec(input);
  return ctx.db.transaction().execute(async (tx) => {
    await checkChannels(tx, spec.channelIds);
    const row = await tx
      .insertInto("alert_rules")
      .values({ ...toRow(spec), created_by: ctx.actor })
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch(uniqueSource);
    const rule = fromRow(row);
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "alert_rule.create",
      target: `alert_rule:${rule.id}`,
      details: auditedSpec(spec),
      traceId: ctx.traceId,
    });
    return rule;
  });
}

/** Replaces a rule's spec (the caller merged the fields it changes); open alerts resolve when it is disabled. */
export async function updateRule(ctx: ActorContext, id: number, input: RuleSpec, fields: string[]): Promise<Rule> {
  const spec = validateRuleSpec(input);
  return ctx.db.transaction().execute(async (tx) => {
    const current = await tx
      .selectFrom("alert_rules")
      .selectAll()
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new AlertError("not_found", `alert rule ${id} not found`);
    if (current.kind !== spec.condition.kind && (current.kind === "external" || spec.condition.kind === "external")) {
      throw new AlertError("invalid", "condition: an external rule stays external, and no rule becomes one");
    }
    await checkChannels(tx, spec.channelIds);
    const row = await tx
      .updateTable("alert_rules")
      .set({ ...toRow(spec), updated_at: new Date(), version: sql`version + 1` as never })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    // The condition changed or the rule stopped: its open alerts no longer mean what they said.
    const conditionChanged = fields.some((f) => ["condition", "devices", "sensors"].includes(f));
    if (!spec.enabled || (conditionChanged && spec.condition.kind !== "external")) {
      await resolveOpenAlerts(tx, id, spec.enabled ? "rule changed" : "rule disabled");
    }
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "alert_rule.update",
      target: `alert_rule:${id}`,
      details: { fields, ...auditedSpec(spec) },
      traceId: ctx.traceId,
    });
    return fromRow(row);
  });
}

/** Soft-deletes a rule and resolves its open alerts; returns how many resolved. */
export async function deleteRule(ctx: ActorContext, id: number): Promise<number> {
  return ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable("alert_rules")
      .set({ deleted_at: new Date(), enabled: false, updated_at: new Date(), version: sql`version + 1` as never })
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .returning(["id", "name"])
      .executeTakeFirst();
    if (!row) throw new AlertError("not_found", `alert rule ${id} not found`);
    const resolved = await resolveOpenAlerts(tx, id, "rule deleted");
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "alert_rule.delete",
      target: `alert_rule:${id}`,
      details: { name: row.name },
      rowsAffected: resolved,
      traceId: ctx.traceId,
    });
    return resolved;
  });
}

export async function getRule(db: Kysely<Database>, id: number): Promise<Rule> {
  const row = await db
    .selectFrom("alert_rules")
    .selectAll()
    .where("id", "=", id)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (!row) throw new AlertError("not_found", `alert rule ${id} not found`);
  return fromRow(row);
}

/** Rules by id, after `afterId`. */
export async function listRules(db: Kysely<Database>, options: { limit: number; afterId?: number }): Promise<Rule[]> {
  let q = db.selectFrom("alert_rules").selectAll().where("deleted_at", "is", null);
  if (options.afterId !== undefined) q = q.where("id", ">", options.afterId);
  const rows = await q.orderBy("id").limit(options.limit).execute();
  return rows.map(fromRow);
}

/** Every enabled rule, and a version that changes whenever any rule does (alerters poll it). */
export async function loadActiveRules(db: Kysely<Database>): Promise<Rule[]> {
  const rows = await db
    .selectFrom("alert_rules")
    .selectAll()
    .where("deleted_at", "is", null)
    .where("enabled", "=", true)
    .orderBy("id")
    .execute();
  return rows.map(fromRow);
}

/** Sum and count of rule versions: moves on every create, update and delete. */
export async function rulesVersion(db: Kysely<Database>): Promise<string> {
  const row = await db
    .selectFrom("alert_rules")
    .select([sql<string>`coalesce(sum(version), 0)::text`.as("v"), sql<string>`count(*)::text`.as("n")])
    .executeTakeFirstOrThrow();
  return `${row.v}/${row.n}`;
}

/**
 * The rule of an external source, created on first use (the fleet service's
 * "maintenance", the alerter's "alerter" for gaps). People may change its
 * severity, devices, channels or disable it; the source keeps raising through it.
 */
export async function ensureExternalRule(
  ctx: ActorContext,
  input: { source: string; name: string; description: string; severity: Severity },
): Promise<Rule> {
  const existing = await ctx.db
    .selectFrom("alert_rules")
    .selectAll()
    .where("kind", "=", "external")
    .where("source", "=", input.source)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  if (existing) return fromRow(existing);
  try {
    return await createRule(ctx, {
      name: input.name,
      description: input.description,
      severity: input.severity,
      devices: {},
      sensors: [],
      condition: { kind: "external", source: input.source },
      channelIds: [],
      enabled: true,
    });
  } catch (err) {
    // Another replica created it first.
    if (err instanceof AlertError && err.kind === "exists") return ensureExternalRule(ctx, input);
    throw err;
  }
}

async function resolveOpenAlerts(tx: Kysely<Database>, ruleId: number, reason: string): Promise<number> {
  const result = await tx
    .updateTable("alerts")
    .set({
      state: "resolved",
      resolved_at: new Date(),
      resolve_reason: reason,
      updated_at: new Date(),
      version: sql`version + 1` as never,
    })
    .where("rule_id", "=", ruleId)
    .where("state", "<>", "resolved")
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

async function checkChannels(tx: Kysely<Database>, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  const found = await tx
    .selectFrom("notification_channels")
    .select("id")
    .where("id", "in", ids)
    .where("deleted_at", "is", null)
    .execute();
  const known = new Set(found.map((r) => r.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length > 0) throw new AlertError("invalid", `channel_ids: no channel ${missing.join(", ")}`);
}

function uniqueSource(err: unknown): never {
  if (/alert_rules_external_source/.test(String((err as Error)?.message))) {
    throw new AlertError("exists", "an external rule for this source exists already");
  }
  throw err;
}

function toRow(spec: RuleSpec) {
  const { kind, ...params } = spec.condition;
  return {
    name: spec.name,
    description: spec.description,
    kind,
    severity: spec.severity,
    selector: JSON.stringify(spec.devices),
    sensors: spec.sensors,
    params: JSON.stringify(params),
    source: spec.condition.kind === "external" ? spec.condition.source : null,
    channel_ids: spec.channelIds,
    enabled: spec.enabled,
  };
}

function auditedSpec(spec: RuleSpec): Record<string, unknown> {
  return { ...spec };
}

export function fromRow(r: RuleRow): Rule {
  return {
    id: Number(r.id),
    name: r.name,
    description: r.description,
    severity: r.severity,
    devices: (r.selector ?? {}) as Rule["devices"],
    sensors: r.sensors ?? [],
    condition: { kind: r.kind, ...(r.params as object) } as Condition,
    channelIds: ((r.channel_ids ?? []) as Array<number | string>).map(Number),
    enabled: r.enabled,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    version: Number(r.version),
  };
}

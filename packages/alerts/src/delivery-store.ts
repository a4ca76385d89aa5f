import { randomUUID } from "node:crypto";
import { type AlertDeliveriesTable, type Database, type Kysely, recordAudit, sql } from "@vigil/db";
import type { Selectable } from "kysely";
import { AlertError } from "./alert-error.ts";
import { type AlertView, getAlert } from "./alert-store.ts";
import { alertPayload, testPayload } from "./payload.ts";
import type { ActorContext } from "./rule-store.ts";

export type Delivery = Selectable<AlertDeliveriesTable>;
export type DeliveryEvent = "fired" | "resolved" | "test";

/**
 * Queues one delivery per channel of the alert's rule, with the payload
 * fixed now and a webhook-id that names the alert, the event and the channel
 * (the same on every attempt). Returns how many were queued.
 */
export async function enqueueDeliveries(
  tx: Kysely<Database>,
  alertId: number,
  event: "fired" | "resolved",
  deadlineMs: number,
): Promise<number> {
  const alert = await getAlert(tx, alertId);
  const rule = await tx
    .selectFrom("alert_rules")
    .select("channel_ids")
    .where("id", "=", alert.ruleId)
    .executeTakeFirst();
  const channelIds = (rule?.channel_ids ?? []).map(Number);
  if (channelIds.length === 0) return 0;
  const channels = await tx
    .selectFrom("notification_channels")
    .select("id")
    .where("id", "in", channelIds)
    .where("deleted_at", "is", null)
    .execute();
  if (channels.length === 0) return 0;
  const payload = JSON.stringify(alertPayload(alert, event));
  const deadline = new Date(Date.now() + deadlineMs);
  await tx
    .insertInto("alert_deliveries")
    .values(
      channels.map((c) => ({
        channel_id: Number(c.id),
        alert_id: alertId,
        event,
        state: "pending" as const,
        message_id: `msg_alert${alertId}_${event}_ch${c.id}`,
        payload,
        deadline_at: deadline,
      })),
    )
    .onConflict((oc) => oc.column("message_id").doNothing())
    .execute();
  return channels.length;
}

/** A test delivery through one channel, audited. */
export async function createTestDelivery(ctx: ActorContext, channelId: number, deadlineMs: number): Promise<Delivery> {
  return ctx.db.transaction().execute(async (tx) => {
    const channel = await tx
      .selectFrom("notification_channels")
      .select(["id", "name"])
      .where("id", "=", channelId)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    if (!channel) throw new AlertError("not_found", `notification channel ${channelId} not found`);
    const row = await tx
      .insertInto("alert_deliveries")
      .values({
        channel_id: channelId,
        alert_id: null,
        event: "test",
        state: "pending",
        message_id: `msg_test_${randomUUID()}`,
        payload: JSON.stringify(testPayload(channel.name, ctx.actor)),
        deadline_at: new Date(Date.now() + deadlineMs),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "notification_channel.test",
      target: `notification_channel:${channelId}`,
      details: { deliveryId: Number(row.id) },
      traceId: ctx.traceId,
    });
    return row;
  });
}

export async function getDelivery(db: Kysely<Database>, id: number): Promise<Delivery> {
  const row = await db.selectFrom("alert_deliveries").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw new AlertError("not_found", `delivery ${id} not found`);
  return row;
}

export async function listDeliveries(
  db: Kysely<Database>,
  filter: { channelId?: number; alertId?: number; state?: Delivery["state"] },
  page: { limit: number; beforeId?: number },
): Promise<Delivery[]> {
  let q = db.selectFrom("alert_deliveries").selectAll();
  if (filter.channelId) q = q.where("channel_id", "=", filter.channelId);
  if (filter.alertId) q = q.where("alert_id", "=", filter.alertId);
  if (filter.state) q = q.where("state", "=", filter.state);
  if (page.beforeId !== undefined) q = q.where("id", "<", page.beforeId);
  return q.orderBy("id", "desc").limit(page.limit).execute();
}

/** Sends a failed (or skipped) delivery again: same webhook-id and payload, a new deadline. */
export async function retryDelivery(ctx: ActorContext, id: number, deadlineMs: number): Promise<Delivery> {
  return ctx.db.transaction().execute(async (tx) => {
    const current = await tx.selectFrom("alert_deliveries").select("state").where("id", "=", id).executeTakeFirst();
    if (!current) throw new AlertError("not_found", `delivery ${id} not found`);
    if (current.state === "pending" || current.state === "succeeded") {
      throw new AlertError(
        "failed_precondition",
        `delivery ${id} is ${current.state}; only failed or skipped ones are retried`,
      );
    }
    const row = await tx
      .updateTable("alert_deliveries")
      .set({
        state: "pending",
        next_attempt_at: new Date(),
        deadline_at: new Date(Date.now() + deadlineMs),
        locked_until: null,
        updated_at: new Date(),
      })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "delivery.retry",
      target: `delivery:${id}`,
      details: { messageId: row.message_id, channelId: Number(row.channel_id) },
      traceId: ctx.traceId,
    });
    return row;
  });
}

/**
 * Takes up to `limit` due deliveries for this replica: each is locked for
 * `lockMs` (another replica takes it again after that if this one dies
 * mid-send, with the same webhook-id).
 */
export async function claimDueDeliveries(db: Kysely<Database>, limit: number, lockMs: number): Promise<Delivery[]> {
  const { rows } = await sql<Delivery>`
    UPDATE alert_deliveries SET locked_until = now() + ${`${lockMs} milliseconds`}::interval, updated_at = now()
    WHERE id IN (
      SELECT id FROM alert_deliveries
      WHERE state = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
      ORDER BY next_attempt_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING *`.execute(db);
  return rows;
}

/** The outcome of one attempt. */
export type AttemptOutcome =
  | { kind: "succeeded"; status?: number }
  | { kind: "retry"; error: string; status?: number; retryAtMs: number }
  | { kind: "defer"; untilMs: number; reason: string }
  | { kind: "skipped"; reason: string };

/** Records an attempt: success, a failure to retry (failed once past the deadline), a deferral, or a skip. */
export async function recordAttempt(db: Kysely<Database>, d: Delivery, outcome: AttemptOutcome): Promise<void> {
  const base = { locked_until: null, updated_at: new Date() };
  let q = db.updateTable("alert_deliveries").where("id", "=", d.id);
  switch (outcome.kind) {
    case "succeeded":
      q = q.set({
        ...base,
        state: "succeeded",
        attempts: sql`attempts + 1` as never,
        delivered_at: new Date(),
        last_status: outcome.status ?? null,
      });
      break;
    case "retry": {
      const giveUp = outcome.retryAtMs > d.deadline_at.getTime();
      q = q.set({
        ...base,
        state: giveUp ? "failed" : "pending",
        attempts: sql`attempts + 1` as never,
        next_attempt_at: giveUp ? new Date() : new Date(outcome.retryAtMs),
        last_error: outcome.error.slice(0, 500),
        last_status: outcome.status ?? null,
      });
      break;
    }
    case "defer":
      q = q.set({ ...base, next_attempt_at: new Date(outcome.untilMs), last_error: outcome.reason });
      break;
    case "skipped":
      q = q.set({ ...base, state: "skipped", last_error: outcome.reason });
      break;
  }
  await q.execute();
}

/** For a delivery about to be sent: is its alert silenced now, until when; has it resolved? */
export async function deliveryContext(
  db: Kysely<Database>,
  d: Delivery,
): Promise<{ alert: AlertView | undefined; silencedUntil: Date | undefined }> {
  if (d.alert_id === null) return { alert: undefined, silencedUntil: undefined };
  const alert = await getAlert(db, Number(d.alert_id));
  const until = await sql<{ ends_at: Date | null }>`
    SELECT max(s.ends_at) AS ends_at FROM silences s
    WHERE s.starts_at <= now() AND s.ends_at > now()
      AND (s.rule_id IS NULL OR s.rule_id = ${alert.ruleId})
      AND (s.device_code IS NULL OR s.device_code = ${alert.device?.code ?? null})
      AND (s.device_number IS NULL OR s.device_number = ${alert.device?.number ?? null})
      AND (s.sensor IS NULL OR s.sensor = ${alert.sensor})
      AND (s.max_severity IS NULL OR array_position(ARRAY['info','warning','critical'], ${alert.severity}::text)
                                    <= array_position(ARRAY['info','warning','critical'], s.max_severity))`.execute(db);
  return { alert, silencedUntil: until.rows[0]?.ends_at ?? undefined };
}

/**
 * Takes one token from the channel's bucket (shared by all replicas: one
 * UPDATE refills by elapsed time and takes a token, or takes none). Returns
 * 0 when a token was taken, or the milliseconds until one will be there.
 */
export async function takeRateToken(db: Kysely<Database>, channelId: number): Promise<number> {
  const { rows } = await sql<{ taken: boolean; wait_ms: number }>`
    WITH c AS (
      SELECT id, rate_per_minute,
             LEAST(rate_per_minute::float8,
                   rate_tokens + EXTRACT(EPOCH FROM (now() - rate_updated_at)) * rate_per_minute / 60.0) AS tokens
      FROM notification_channels WHERE id = ${channelId} FOR UPDATE),
    u AS (
      UPDATE notification_channels n SET
        rate_tokens = CASE WHEN c.tokens >= 1 THEN c.tokens - 1 ELSE c.tokens END,
        rate_updated_at = now()
      FROM c WHERE n.id = c.id
      RETURNING c.tokens >= 1 AS taken, c.tokens, c.rate_per_minute)
    SELECT taken, CASE WHEN taken THEN 0 ELSE ceil((1 - tokens) * 60000.0 / rate_per_minute) END AS wait_ms FROM u`.execute(
    db,
  );
  const row = rows[0];
  if (!row) return 0;
  return row.taken ? 0 : Math.max(1, Number(row.wait_ms));
}

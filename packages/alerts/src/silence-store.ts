import { type Database, type Kysely, recordAudit, type SilencesTable } from "@vigil/db";
import type { Selectable } from "kysely";
import { AlertError } from "./alert-error.ts";
import { SEVERITIES, type Severity } from "./rule-model.ts";
import type { ActorContext } from "./rule-store.ts";

export type SilenceRow = Selectable<SilencesTable>;

export interface SilenceMatcher {
  ruleId?: number;
  deviceCode?: string;
  deviceNumber?: number;
  sensor?: string;
  maxSeverity?: Severity;
}

const MINUTE_MS = 60_000;
export const MAX_SILENCE_MS = 7 * 86_400_000;

/** Creates a silence of 1 minute to 7 days; at least one matcher field must be set. */
export async function createSilence(
  ctx: ActorContext,
  input: { matcher: SilenceMatcher; startMs?: number; durationMs: number; comment: string },
): Promise<SilenceRow> {
  const m = input.matcher;
  if (!m.ruleId && !m.deviceCode && m.deviceNumber === undefined && !m.sensor && !m.maxSeverity) {
    throw new AlertError(
      "invalid",
      "matcher: set at least one of rule_id, device_code, device_number, sensor, max_severity",
    );
  }
  if (m.maxSeverity && !SEVERITIES.includes(m.maxSeverity))
    throw new AlertError("invalid", "matcher.max_severity: bad severity");
  if (m.deviceCode && !/^[A-Z]{1,16}$/.test(m.deviceCode))
    throw new AlertError("invalid", "matcher.device_code: 1 to 16 capital letters");
  if ((m.sensor?.length ?? 0) > 128) throw new AlertError("invalid", "matcher.sensor: at most 128 characters");
  if (!Number.isInteger(input.durationMs) || input.durationMs < MINUTE_MS || input.durationMs > MAX_SILENCE_MS) {
    throw new AlertError("invalid", "duration: must be from 1 minute to 7 days");
  }
  if (input.comment.length > 1_000) throw new AlertError("invalid", "comment: at most 1000 characters");
  const now = Date.now();
  const start = input.startMs ?? now;
  if (start < now - MINUTE_MS || start > now + MAX_SILENCE_MS) {
    throw new AlertError("invalid", "start_time: from now to 7 days ahead");
  }
  return ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto("silences")
      .values({
        rule_id: m.ruleId ?? null,
        device_code: m.deviceCode ?? null,
        device_number: m.deviceNumber ?? null,
        sensor: m.sensor ?? null,
        max_severity: m.maxSeverity ?? null,
        starts_at: new Date(start),
        ends_at: new Date(start + input.durationMs),
        comment: input.comment,
        created_by: ctx.actor,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "silence.create",
      target: `silence:${row.id}`,
      details: { matcher: m, start: row.starts_at, end: row.ends_at, comment: input.comment },
      traceId: ctx.traceId,
    });
    return row;
  });
}

export async function listSilences(
  db: Kysely<Database>,
  options: { includeExpired: boolean; limit: number; beforeId?: number },
): Promise<SilenceRow[]> {
  let q = db.selectFrom("silences").selectAll();
  if (!options.includeExpired) q = q.where("ends_at", ">", new Date());
  if (options.beforeId !== undefined) q = q.where("id", "<", options.beforeId);
  return q.orderBy("id", "desc").limit(options.limit).execute();
}

/** Ends a silence now; deliveries it held back go out at their next attempt. */
export async function endSilence(ctx: ActorContext, id: number): Promise<SilenceRow> {
  return ctx.db.transaction().execute(async (tx) => {
    const current = await tx.selectFrom("silences").selectAll().where("id", "=", id).executeTakeFirst();
    if (!current) throw new AlertError("not_found", `silence ${id} not found`);
    const now = new Date();
    let row = current;
    if (current.ends_at > now) {
      // A silence that has not started yet ends as it starts.
      const end = current.starts_at > now ? new Date(current.starts_at.getTime() + 1) : now;
      row = await tx
        .updateTable("silences")
        .set({ ends_at: end })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirstOrThrow();
      // Deliveries held until the silence's end go now.
      await tx
        .updateTable("alert_deliveries")
        .set({ next_attempt_at: now })
        .where("state", "=", "pending")
        .where("next_attempt_at", "=", current.ends_at)
        .execute();
    }
    await recordAudit(tx, {
      actor: ctx.actor,
      action: "silence.delete",
      target: `silence:${id}`,
      details: {},
      traceId: ctx.traceId,
    });
    return row;
  });
}

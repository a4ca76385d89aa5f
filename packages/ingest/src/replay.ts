import type { ReadingBus } from "@vigil/bus";
import { type Database, type Kysely, recordAudit } from "@vigil/db";
import { DecodeError, decodeReadingBatch } from "@vigil/proto";
import { type DeadLetterRow, getDeadLetter, markReplayed } from "./dead-letters.ts";
import { type BatchLimits, validateBatch } from "./validate-batch.ts";

export class ReplayError extends Error {
  override name = "ReplayError";
  readonly kind: "not_found" | "failed_precondition";
  constructor(kind: ReplayError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface ReplayContext {
  db: Kysely<Database>;
  bus: ReadingBus;
  limits: BatchLimits;
  actor: string;
  traceId?: string;
}

/**
 * Retries a dead letter: validates its batch again with the current rules
 * and appends it to the log under a replay id (so JetStream does not take
 * it for a duplicate of the refused original); the writers store it, and
 * the readings' unique key keeps it from being stored twice. Audited.
 */
export async function replayDeadLetter(
  ctx: ReplayContext,
  id: number,
): Promise<{ deadLetter: DeadLetterRow; readings: number }> {
  const letter = await getDeadLetter(ctx.db, id);
  if (!letter) throw new ReplayError("not_found", `dead letter ${id} does not exist`);
  if (letter.replayedAt) throw new ReplayError("failed_precondition", `dead letter ${id} was already replayed`);
  if (letter.deviceId === null || !letter.payload?.length) {
    throw new ReplayError("failed_precondition", `dead letter ${id} has no identified device or no batch to replay`);
  }
  if (letter.payloadTruncated) {
    throw new ReplayError(
      "failed_precondition",
      `dead letter ${id} kept only ${letter.payload.length} of its ${letter.payloadBytes} bytes: it cannot be replayed`,
    );
  }
  let batch: ReturnType<typeof decodeReadingBatch>;
  try {
    batch = decodeReadingBatch(letter.payload);
  } catch (err) {
    if (err instanceof DecodeError)
      throw new ReplayError("failed_precondition", `dead letter ${id} is not a batch: ${err.message}`);
    throw err;
  }
  const verdict = validateBatch(batch, ctx.limits, Date.now());
  if (!verdict.ok) throw new ReplayError("failed_precondition", `the batch still breaks the rules: ${verdict.reason}`);
  const device = await ctx.db
    .selectFrom("devices")
    .select(["id", "code", "number"])
    .where("id", "=", letter.deviceId)
    .executeTakeFirstOrThrow();
  await ctx.bus.append({
    device,
    seq: batch.seq,
    payload: letter.payload,
    messageId: `${device.code}-${device.number}:${batch.seq}:replay:${id}`,
  });
  await markReplayed(ctx.db, id);
  await recordAudit(ctx.db, {
    actor: ctx.actor,
    action: "dead_letter.replay",
    target: `dead_letter:${id}`,
    details: { device: letter.device, seq: batch.seq, source: letter.source },
    rowsAffected: verdict.readings,
    traceId: ctx.traceId,
  });
  return { deadLetter: { ...letter, replayedAt: new Date() }, readings: verdict.readings };
}

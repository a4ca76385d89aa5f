import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Deletes receiver dead letters (batches refused on arrival, never acked)
 * older than `retentionMs`, and dead letters of any source replayed longer
 * ago than that. A writer's dead letter that was never replayed is acked data
 * that did not reach `readings`: it stays until an operator replays it.
 * Returns how many rows went.
 */
export async function pruneDeadLetters(db: Kysely<Database>, retentionMs: number, nowMs = Date.now()): Promise<number> {
  const cutoff = new Date(nowMs - retentionMs);
  const result = await sql`
    DELETE FROM dead_letters
    WHERE (source = 'receiver' AND created_at < ${cutoff}) OR replayed_at < ${cutoff}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

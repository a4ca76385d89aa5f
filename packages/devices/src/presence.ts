import { type Database, type Kysely, sql } from "@vigil/db";

/**
 * Receivers refresh the presence of every device they hold a stream of this
 * often; a device counts as online while `connected` is set and the last
 * refresh is younger than PRESENCE_TIMEOUT_MS, so a receiver that dies
 * without saying goodbye stops vouching for its devices within that time.
 */
export const PRESENCE_HEARTBEAT_MS = 10_000;
export const PRESENCE_TIMEOUT_MS = 3 * PRESENCE_HEARTBEAT_MS;

/** Marks devices connected now (on stream open and on every heartbeat). */
export async function markConnected(db: Kysely<Database>, deviceIds: number[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db
    .updateTable("devices")
    .set({ connected: true, last_seen_at: sql<Date>`now()` })
    .where("id", "in", deviceIds)
    .execute();
}

/** Marks a device disconnected (its last stream on this receiver ended). */
export async function markDisconnected(db: Kysely<Database>, deviceId: number): Promise<void> {
  await db
    .updateTable("devices")
    .set({ connected: false, last_seen_at: sql<Date>`now()` })
    .where("id", "=", deviceId)
    .execute();
}

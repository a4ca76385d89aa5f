import { type Database, type Kysely, sql } from "@vigil/db";

/**
 * Rows stored per batch, keyed "<code>-<number>:<seq>", to compare with
 * what the devices saw acked.
 */
export async function storedBatches(db: Kysely<Database>): Promise<Map<string, number>> {
  const { rows } = await sql<{ key: string; rows: number }>`
    SELECT d.code || '-' || d.number || ':' || r.seq AS key, count(*)::int AS rows
    FROM readings r JOIN devices d ON d.id = r.device_id
    WHERE r.deleted_at IS NULL
    GROUP BY d.code, d.number, r.seq`.execute(db);
  return new Map(rows.map((r) => [r.key, Number(r.rows)]));
}

/** The same key for each batch the fleet saw acked. */
export function ackedBatches(
  devices: Array<{ identity: { code: string; number: number }; acked: Map<number, number> }>,
) {
  const out = new Map<string, number>();
  for (const d of devices) {
    for (const [seq, readings] of d.acked) out.set(`${d.identity.code}-${d.identity.number}:${seq}`, readings);
  }
  return out;
}

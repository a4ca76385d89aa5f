import { type Kysely, sql } from "kysely";

/**
 * Dead letters keep the size of the batch as it arrived: receivers store
 * only the first RECEIVER_DEAD_LETTER_MAX_PAYLOAD_BYTES of a refused batch,
 * and a cut one must not be replayed. Older rows hold whole batches (NULL:
 * the payload's own length).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE dead_letters ADD COLUMN payload_bytes integer`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE dead_letters DROP COLUMN payload_bytes`.execute(db);
}

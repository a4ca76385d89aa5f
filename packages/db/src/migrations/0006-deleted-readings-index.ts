import { type Kysely, sql } from "kysely";

/**
 * An index of the soft-deleted readings only (deleted_at IS NOT NULL), in
 * the unique index's order. ListReadings counts a filter's live readings as
 * all matching readings, counted on the unique index alone (an index-only
 * scan: no heap page is read once vacuum has marked the pages all-visible),
 * minus the deleted ones found here. Before, the count read every matching
 * row's heap page to check deleted_at, and the rows of one series lie one
 * per page (hundreds of series are inserted interleaved): 1,001 pages, 8 ms,
 * for one robot's sensor over a day of a 10-million-reading month.
 *
 * Ingest pays nothing (a new reading is not deleted, so not in the index);
 * a soft delete adds an entry. Works on partitions (plain PostgreSQL:
 * created on each, and on every partition made or attached later) and on
 * TimescaleDB hypertables, compressed chunks included.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX readings_deleted ON readings (device_id, sensor_id, time) WHERE deleted_at IS NOT NULL`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS readings_deleted`.execute(db);
}

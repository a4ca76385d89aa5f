import { type Kysely, sql } from "kysely";

/**
 * The time index becomes `(time DESC, device_id DESC, sensor_id DESC)`: the
 * whole order of ListReadings' keyset (`ORDER BY time, device_id, sensor_id`,
 * either direction) instead of `time` alone.
 *
 * Why (issue 16): on a TimescaleDB hypertable an unfiltered newest-first page
 * was planned as a ChunkAppend whose every uncompressed chunk is read with a
 * sequential scan and sorted whole by the three keys. TimescaleDB builds that
 * ordered append from each chunk's cheapest path and adds the per-chunk sorts
 * afterwards at zero cost, so the plan never considers an incremental sort
 * over the `time` index, and refreshed statistics do not change it: 170 ms
 * for the bench's 100,000-row newest chunk, 1.7 s for 3.1 million rows, past
 * the 30 s statement timeout for 9.3 million. With an index in the page's
 * order each chunk is an index scan that stops after the page (0.5 ms), and
 * the keyset's row comparison `(time, device_id, sensor_id) < (…)` is an index
 * condition, so a later page starts at the cursor. Plain PostgreSQL
 * partitions managed with an incremental sort over the `time` index; they get
 * the same index and a plain index scan.
 *
 * Replaces the `time` index rather than adding one, so ingest maintains as
 * many indexes as before: every query the `time` index served (time ranges:
 * rollups, aggregate refreshes, archive exports, retention) is served by the
 * new index's leading column. Compressed chunks keep no row indexes; a page
 * that reaches one is sorted from its decompressed batches, as before.
 *
 * On TimescaleDB the index `create_hypertable` made is `readings_time_idx`; on
 * partitions migration 0001 named it `readings_time`. Building the index
 * locks `readings` against writes for the duration (on every partition or
 * chunk): about 2 s on the 10-million-reading bench dataset.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX readings_time_series ON readings (time DESC, device_id DESC, sensor_id DESC)`.execute(db);
  await sql`DROP INDEX IF EXISTS readings_time`.execute(db);
  await sql`DROP INDEX IF EXISTS readings_time_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  const name = rows[0]?.present ? "readings_time_idx" : "readings_time";
  await sql`CREATE INDEX ${sql.id(name)} ON readings (time DESC)`.execute(db);
  await sql`DROP INDEX IF EXISTS readings_time_series`.execute(db);
}

import { type Kysely, sql } from "kysely";
import { DEFAULT_LIFECYCLE, intervalLiteral, refreshWindowMs } from "../lifecycle-settings.ts";

/**
 * `readings_1h_fleet`: the hourly aggregate per sensor over every device
 * (bucket, sensor_id, count, sum, min, max, sketch), for stats that filter no
 * device (a fleet-wide chart). Read from `readings_1h` instead, such a chart
 * merges one sketch per device per hour at query time: 30 days of one sensor
 * on 40 robots is 28,800 sketches and 890,000 histogram bins, 1.2 to 1.9 s on
 * the bench dataset, growing with the fleet; here it is 720 rows whatever the
 * fleet's size.
 *
 * Sketches merge with the aggregate `vigil_sketch_merge` (concatenate, then
 * add the counts of equal bins; a bin's count is capped at 2^32 − 1).
 *
 * TimescaleDB: a continuous aggregate on `readings_1h` (hierarchical,
 * real-time), with refresh and retention policies that the lifecycle service runs
 * like the others (not TimescaleDB's scheduler: migration 0011). Plain
 * PostgreSQL: a rollup table the lifecycle service recomputes with the hourly rollup
 * (same ranges, same transaction), filled here from it, and a view of the
 * same shape adding the hours after the rollups' watermark from raw rows.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION vigil_sketch_merge_final(s bigint[]) RETURNS bigint[]
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      RETURN (SELECT array_agg((b << 32) | least(n, 4294967295) ORDER BY b)
              FROM (SELECT e >> 32 AS b, sum(e & 4294967295)::bigint AS n FROM unnest(s) AS e GROUP BY 1) AS m)`.execute(
    db,
  );
  await sql`
    CREATE AGGREGATE vigil_sketch_merge(bigint[]) (
      SFUNC = array_cat, STYPE = bigint[], COMBINEFUNC = array_cat,
      FINALFUNC = vigil_sketch_merge_final, PARALLEL = SAFE)`.execute(db);

  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  if (rows[0]?.present) await timescaleFleet(db);
  else await plainFleet(db);
}

async function timescaleFleet(db: Kysely<unknown>): Promise<void> {
  const d = DEFAULT_LIFECYCLE;
  await sql`
    CREATE MATERIALIZED VIEW readings_1h_fleet
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket('1 hour'::interval, bucket) AS bucket, sensor_id,
           sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
           vigil_sketch_merge(sketch) AS sketch
    FROM readings_1h
    GROUP BY 1, 2
    WITH NO DATA`.execute(db);
  await sql`
    SELECT add_continuous_aggregate_policy('readings_1h_fleet',
      start_offset => ${intervalLiteral(refreshWindowMs(d))}::interval,
      end_offset => '1 hour'::interval,
      schedule_interval => '30 minutes'::interval,
      buckets_per_batch => 168)`.execute(db);
  await sql`SELECT add_retention_policy('readings_1h_fleet', drop_after => ${intervalLiteral(d.aggregates1hRetentionMs)}::interval)`.execute(
    db,
  );
  // Run by the lifecycle service, like every other policy (migration 0011 says why).
  await sql`
    SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs
    WHERE hypertable_name = 'readings_1h_fleet'`.execute(db);
}

async function plainFleet(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE readings_1h_fleet_rollup (
      bucket    timestamptz NOT NULL,
      count     bigint NOT NULL,
      sum       double precision NOT NULL,
      min       double precision NOT NULL,
      max       double precision NOT NULL,
      sensor_id smallint NOT NULL,
      sketch    bigint[] NOT NULL,
      PRIMARY KEY (bucket, sensor_id)
    )`.execute(db);
  await sql`
    INSERT INTO readings_1h_fleet_rollup (bucket, sensor_id, count, sum, min, max, sketch)
    SELECT bucket, sensor_id, sum(count), sum(sum), min(min), max(max), vigil_sketch_merge(sketch)
    FROM readings_1h_rollup GROUP BY 1, 2`.execute(db);
  await sql`
    CREATE VIEW readings_1h_fleet AS
    SELECT bucket, sensor_id, count, sum, min, max, sketch FROM readings_1h_fleet_rollup
    UNION ALL
    SELECT date_bin('1 hour'::interval, time, TIMESTAMPTZ 'epoch') AS bucket, sensor_id,
           count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
           vigil_sketch(array_agg(vigil_sketch_bin(value))) AS sketch
    FROM readings
    WHERE deleted_at IS NULL AND time >= (SELECT watermark_1h FROM rollup_state)
    GROUP BY 1, 2`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  if (rows[0]?.present) {
    await sql`DROP MATERIALIZED VIEW IF EXISTS readings_1h_fleet`.execute(db);
  } else {
    await sql`DROP VIEW IF EXISTS readings_1h_fleet`.execute(db);
    await sql`DROP TABLE IF EXISTS readings_1h_fleet_rollup`.execute(db);
  }
  await sql`DROP AGGREGATE IF EXISTS vigil_sketch_merge(bigint[])`.execute(db);
  await sql`DROP FUNCTION IF EXISTS vigil_sketch_merge_final(bigint[])`.execute(db);
}

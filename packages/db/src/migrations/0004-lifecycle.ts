import { type Kysely, sql } from "kysely";
import { DEFAULT_LIFECYCLE, intervalLiteral, refreshWindowMs } from "../lifecycle-settings.ts";
import { maintainPartitions } from "../reading-partitions.ts";
import { ROLLUP_THRESHOLD_LOCK } from "../rollup-refresh.ts";
import { SKETCH_LN_GAMMA_SQL, SKETCH_LN_INV_MIN_SQL, SKETCH_MIN_MAGNITUDE } from "../sketch.ts";

/**
 * The readings lifecycle: aggregates at 1 minute and 1 hour with a
 * mergeable percentile sketch, compression and retention, the archive's
 * bookkeeping and the audit log.
 *
 * With TimescaleDB: compression on `readings`, continuous aggregates
 * `readings_1m` / `readings_1h` (real-time) with refresh and retention
 * policies. Without: rollup tables refreshed by the lifecycle service, an
 * invalidation trigger on `readings`, and views `readings_1m` / `readings_1h`
 * with the same columns that add the not yet rolled-up rows, so the same
 * queries run on both engines. Raw retention is never a TimescaleDB policy:
 * the lifecycle service drops a chunk only after its archive is verified.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function up(db: Kysely<any>): Promise<void> {
  // The sketch's bin of one value (see sketch.ts). ln|v| + ln(1/MIN) instead
  // of ln(|v|/MIN): no overflow for the largest doubles.
  await sql`
    CREATE FUNCTION vigil_sketch_bin(v double precision) RETURNS integer
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
      RETURN CASE WHEN abs(v) < ${sql.raw(String(SKETCH_MIN_MAGNITUDE))} THEN 0
        ELSE (sign(v) * (floor((ln(abs(v)) + ${sql.raw(SKETCH_LN_INV_MIN_SQL)}) / ${sql.raw(SKETCH_LN_GAMMA_SQL)}) + 1))::integer
      END`.execute(db);
  // Bins to a sketch: (bin << 32 | count) per distinct bin, sorted by bin.
  await sql`
    CREATE FUNCTION vigil_sketch(bins integer[]) RETURNS bigint[]
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      RETURN (SELECT array_agg((b::bigint << 32) | n ORDER BY b)
              FROM (SELECT b, count(*) AS n FROM unnest(bins) AS b GROUP BY b) AS s)`.execute(db);

  // Main's migration 0003 creates the same table; whichever runs first wins.
  await sql`
    CREATE TABLE IF NOT EXISTS audit_log (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at            timestamptz NOT NULL DEFAULT now(),
      actor         text NOT NULL,
      action        text NOT NULL,
      target        text,
      details       jsonb,
      rows_affected bigint,
      trace_id      text
    )`.execute(db);

  // One row per archived chunk/partition: what was exported, where, and when
  // its rows left the database.
  await sql`
    CREATE TABLE archive_exports (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      source       text NOT NULL,
      range_start  timestamptz NOT NULL,
      range_end    timestamptz NOT NULL,
      object_key   text NOT NULL,
      rows         bigint NOT NULL,
      bytes        bigint NOT NULL,
      sha256       text NOT NULL,
      exported_at  timestamptz NOT NULL DEFAULT now(),
      dropped_at   timestamptz
    )`.execute(db);
  await sql`CREATE INDEX archive_exports_range ON archive_exports (range_start, range_end)`.execute(db);

  // A restored range stays in the database until hold_until; retention skips it meanwhile.
  await sql`
    CREATE TABLE archive_holds (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      range_start timestamptz NOT NULL,
      range_end   timestamptz NOT NULL,
      hold_until  timestamptz NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  if (await hasExtension(db)) await timescaleLifecycle(db);
  else await plainLifecycle(db);
}

async function timescaleLifecycle(db: Kysely<unknown>): Promise<void> {
  const d = DEFAULT_LIFECYCLE;
  // Segments by series: a compressed chunk keeps each device's sensor
  // together, ordered by time, which is how every query reads it and what
  // the unique key (device_id, sensor_id, time) needs for conflict checks.
  await sql`
    ALTER TABLE readings SET (
      timescaledb.compress,
      timescaledb.compress_segmentby = 'device_id, sensor_id',
      timescaledb.compress_orderby = 'time')`.execute(db);
  await sql`SELECT add_compression_policy('readings', ${intervalLiteral(d.compressAfterMs)}::interval)`.execute(db);

  const window = intervalLiteral(refreshWindowMs(d));
  const levels = [
    // end_offset: the current bucket is still filling; real-time aggregation
    // adds it from raw rows. buckets_per_batch: one day (1m) / one week (1h)
    // per transaction instead of the default of one bucket.
    {
      name: "readings_1m",
      width: "1 minute",
      end: "1 minute",
      every: "1 minute",
      batch: 1440,
      keep: d.aggregates1mRetentionMs,
    },
    {
      name: "readings_1h",
      width: "1 hour",
      end: "1 hour",
      every: "30 minutes",
      batch: 168,
      keep: d.aggregates1hRetentionMs,
    },
  ];
  for (const level of levels) {
    await sql`
      CREATE MATERIALIZED VIEW ${sql.table(level.name)}
      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
      SELECT time_bucket(${sql.lit(level.width)}::interval, time) AS bucket, device_id, sensor_id,
             count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
             vigil_sketch(array_agg(vigil_sketch_bin(value))) AS sketch
      FROM readings
      WHERE deleted_at IS NULL
      GROUP BY 1, 2, 3
      WITH NO DATA`.execute(db);
    await sql`
      SELECT add_continuous_aggregate_policy(${level.name},
        start_offset => ${window}::interval,
        end_offset => ${level.end}::interval,
        schedule_interval => ${level.every}::interval,
        buckets_per_batch => ${level.batch})`.execute(db);
    await sql`SELECT add_retention_policy(${level.name}, drop_after => ${intervalLiteral(level.keep)}::interval)`.execute(
      db,
    );
  }
}

async function plainLifecycle(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{
    kind: string;
  }>`SELECT relkind AS kind FROM pg_class WHERE oid = 'readings'::regclass`.execute(db);
  if (rows[0]?.kind !== "p") {
    // Only a database created before 0001 partitioned readings (never released).
    throw new Error("readings is not partitioned: this database predates migration 0001's partitioning; recreate it");
  }
  for (const name of ["readings_1m_rollup", "readings_1h_rollup"]) {
    // (bucket, …) first: refreshes and retention delete by bucket range, and
    // wide stats queries scan a bucket range; the second index serves a
    // single device's series.
    await sql`
      CREATE TABLE ${sql.table(name)} (
        bucket    timestamptz NOT NULL,
        count     bigint NOT NULL,
        sum       double precision NOT NULL,
        min       double precision NOT NULL,
        max       double precision NOT NULL,
        device_id integer NOT NULL,
        sensor_id smallint NOT NULL,
        sketch    bigint[] NOT NULL,
        PRIMARY KEY (bucket, device_id, sensor_id)
      )`.execute(db);
    await sql`CREATE INDEX ${sql.id(`${name}_series`)} ON ${sql.table(name)} (device_id, sensor_id, bucket)`.execute(
      db,
    );
  }

  // Rollups hold every bucket before their watermark. Rows changed below the
  // threshold (>= both watermarks) are logged as invalidated hours and
  // recomputed by the next refresh.
  await sql`
    CREATE TABLE rollup_state (
      singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      threshold    timestamptz NOT NULL DEFAULT '-infinity',
      watermark_1m timestamptz NOT NULL DEFAULT '-infinity',
      watermark_1h timestamptz NOT NULL DEFAULT '-infinity'
    )`.execute(db);
  await sql`INSERT INTO rollup_state DEFAULT VALUES`.execute(db);
  await sql`CREATE TABLE rollup_invalidations (hour timestamptz NOT NULL)`.execute(db);

  // Statement-level with transition tables: one pass over the rows a
  // statement touched, no per-row trigger call on the ingest path. The
  // shared advisory lock makes the refresh's threshold move wait for
  // statements that read the old threshold, so none slips past both.
  await sql`
    CREATE FUNCTION vigil_rollup_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      t timestamptz;
    BEGIN
      PERFORM pg_advisory_xact_lock_shared(${sql.raw(String(ROLLUP_THRESHOLD_LOCK))});
      SELECT threshold INTO t FROM rollup_state;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_invalidations (hour)
          SELECT DISTINCT date_bin('1 hour', time, TIMESTAMPTZ 'epoch') FROM new_rows WHERE time < t;
      END IF;
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_invalidations (hour)
          SELECT DISTINCT date_bin('1 hour', time, TIMESTAMPTZ 'epoch') FROM old_rows WHERE time < t;
      END IF;
      RETURN NULL;
    END
    $$`.execute(db);
  await sql`
    CREATE TRIGGER readings_rollup_insert AFTER INSERT ON readings
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION vigil_rollup_invalidate()`.execute(db);
  await sql`
    CREATE TRIGGER readings_rollup_update AFTER UPDATE ON readings
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION vigil_rollup_invalidate()`.execute(db);
  await sql`
    CREATE TRIGGER readings_rollup_delete AFTER DELETE ON readings
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION vigil_rollup_invalidate()`.execute(db);

  // The same shape as TimescaleDB's real-time continuous aggregates.
  for (const [view, width, watermark] of [
    ["readings_1m", "1 minute", "watermark_1m"],
    ["readings_1h", "1 hour", "watermark_1h"],
  ] as const) {
    await sql`
      CREATE VIEW ${sql.table(view)} AS
      SELECT bucket, device_id, sensor_id, count, sum, min, max, sketch FROM ${sql.table(`${view}_rollup`)}
      UNION ALL
      SELECT date_bin(${sql.lit(width)}::interval, time, TIMESTAMPTZ 'epoch') AS bucket, device_id, sensor_id,
             count(*) AS count, sum(value) AS sum, min(value) AS min, max(value) AS max,
             vigil_sketch(array_agg(vigil_sketch_bin(value))) AS sketch
      FROM readings
      WHERE deleted_at IS NULL AND time >= (SELECT ${sql.ref(watermark)} FROM rollup_state)
      GROUP BY 1, 2, 3`.execute(db);
  }

  // Partitions for the next days, so a fresh system does not start in DEFAULT.
  // biome-ignore lint/suspicious/noExplicitAny: the typed schema is a view of this one
  await maintainPartitions(db as Kysely<any>, Date.now());
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const timescale = await hasExtension(db);
  if (timescale) {
    await sql`DROP MATERIALIZED VIEW IF EXISTS readings_1h`.execute(db);
    await sql`DROP MATERIALIZED VIEW IF EXISTS readings_1m`.execute(db);
    await sql`SELECT remove_compression_policy('readings', if_exists => true)`.execute(db);
  } else {
    await sql`DROP VIEW IF EXISTS readings_1h, readings_1m`.execute(db);
    await sql`DROP TRIGGER IF EXISTS readings_rollup_insert ON readings`.execute(db);
    await sql`DROP TRIGGER IF EXISTS readings_rollup_update ON readings`.execute(db);
    await sql`DROP TRIGGER IF EXISTS readings_rollup_delete ON readings`.execute(db);
    await sql`DROP FUNCTION IF EXISTS vigil_rollup_invalidate()`.execute(db);
    await sql`DROP TABLE IF EXISTS rollup_invalidations, rollup_state, readings_1h_rollup, readings_1m_rollup`.execute(
      db,
    );
  }
  // audit_log is left alone: migration 0003 may own it.
  await sql`DROP TABLE IF EXISTS archive_holds, archive_exports`.execute(db);
  await sql`DROP FUNCTION IF EXISTS vigil_sketch(integer[]), vigil_sketch_bin(double precision)`.execute(db);
}

async function hasExtension(db: Kysely<unknown>): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  return rows[0]?.present === true;
}

import { type Kysely, type RawBuilder, sql } from "kysely";

/**
 * Sensor ids become `integer` (were `smallint`: 32,767 names for the whole
 * fleet, which one device could use up, after which every batch naming a
 * new sensor failed in the writer), and the dictionary remembers which
 * device registered each name and when, so receivers can hold every device
 * to a quota of new names (RECEIVER_NEW_SENSORS_PER_DEVICE).
 *
 * The width costs nothing per reading: `device_id` and `sensor_id` end the
 * row, and 4 + 2 bytes were padded to 8 anyway.
 *
 * A column used by views cannot change type, and TimescaleDB refuses to
 * change one on a hypertable with compression (columnstore) enabled. So on
 * a database that already holds data this migration, in one transaction:
 * - TimescaleDB: keeps every materialized bucket of the continuous
 *   aggregates, their policies and the compression settings; drops the
 *   aggregates; decompresses the compressed chunks and turns compression
 *   off; widens the column (a rewrite of every chunk); turns compression
 *   back on with the same settings and policy and compresses the same
 *   chunks again; recreates the aggregates with the same definitions and
 *   policies and puts the kept buckets back into them. Until the first
 *   refresh policy run after the migration (within a minute on a server;
 *   the lifecycle service's next run on the embedded engine) the aggregates are
 *   answered from raw readings (real-time aggregation), and buckets older
 *   than the raw readings reappear with that run.
 * - Plain PostgreSQL: drops the views over `readings`, widens `readings`
 *   (every partition) and the rollup tables, recreates the views as they
 *   were.
 * Time and space: it rewrites `readings` once (and decompresses and
 * recompresses what was compressed): plan it like a VACUUM FULL of the
 * table, with the writers stopped (docs/storage.md).
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function up(db: Kysely<any>): Promise<void> {
  // The identity sequence follows the column's type (its maximum becomes 2^31 - 1).
  await sql`ALTER TABLE sensors ALTER COLUMN id TYPE integer`.execute(db);
  await sql`
    ALTER TABLE sensors
      ADD COLUMN registered_by integer REFERENCES devices (id),
      ADD COLUMN registered_at timestamptz NOT NULL DEFAULT now()`.execute(db);
  // The quota counts a device's recent registrations through this index.
  await sql`CREATE INDEX sensors_registered_by ON sensors (registered_by, registered_at) WHERE registered_by IS NOT NULL`.execute(
    db,
  );
  if (await hasTimescale(db)) await widenOnTimescale(db, "integer");
  else await widenOnPostgres(db, "integer");
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
export async function down(db: Kysely<any>): Promise<void> {
  // Only possible while every id still fits; PostgreSQL refuses otherwise.
  if (await hasTimescale(db)) await widenOnTimescale(db, "smallint");
  else await widenOnPostgres(db, "smallint");
  await sql`DROP INDEX IF EXISTS sensors_registered_by`.execute(db);
  await sql`ALTER TABLE sensors DROP COLUMN registered_by, DROP COLUMN registered_at`.execute(db);
  await sql`ALTER TABLE sensors ALTER COLUMN id TYPE smallint`.execute(db);
}

type IdType = "integer" | "smallint";

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
async function widenOnPostgres(db: Kysely<any>, type: IdType): Promise<void> {
  const { rows: views } = await sql<{ name: string; definition: string }>`
    SELECT c.relname AS name, pg_get_viewdef(c.oid) AS definition
    FROM pg_class c
    WHERE c.relkind = 'v' AND c.relname IN ('readings_1m', 'readings_1h')`.execute(db);
  for (const v of views) await sql`DROP VIEW ${sql.table(v.name)}`.execute(db);
  // On the partitioned table: every partition follows, indexes are rebuilt.
  await sql`ALTER TABLE readings ALTER COLUMN sensor_id TYPE ${sql.raw(type)}`.execute(db);
  for (const table of ["readings_1m_rollup", "readings_1h_rollup"]) {
    await sql`ALTER TABLE ${sql.table(table)} ALTER COLUMN sensor_id TYPE ${sql.raw(type)}`.execute(db);
  }
  for (const v of views) {
    await sql`CREATE VIEW ${sql.table(v.name)} AS ${sql.raw(stripSemicolon(v.definition))}`.execute(db);
  }
}

interface PolicyJob {
  proc: string;
  schedule: string;
  config: Record<string, unknown>;
}

interface Aggregate {
  name: string;
  materializedOnly: boolean;
  definition: string;
  matTable: string;
  jobs: PolicyJob[];
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
async function widenOnTimescale(db: Kysely<any>, type: IdType): Promise<void> {
  const { rows: aggregates } = await sql<{
    name: string;
    materialized_only: boolean;
    definition: string;
    mat_table: string;
  }>`
    SELECT view_name AS name, materialized_only, view_definition AS definition,
           format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) AS mat_table
    FROM timescaledb_information.continuous_aggregates
    WHERE hypertable_schema = current_schema() AND hypertable_name = 'readings'
    ORDER BY view_name`.execute(db);
  const kept: Aggregate[] = [];
  for (const a of aggregates) {
    kept.push({
      name: a.name,
      materializedOnly: a.materialized_only,
      definition: stripSemicolon(a.definition),
      matTable: a.mat_table,
      jobs: await policyJobs(db, a.name),
    });
  }
  const { rows: settings } = await sql<{ segmentby: string | null; orderby: string | null }>`
    SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings
    WHERE hypertable = 'readings'::regclass`.execute(db);
  const compression = settings[0];
  const compressionJobs = await policyJobs(db, "readings");
  const { rows: compressed } = await sql<{ chunk: string }>`
    SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk
    FROM timescaledb_information.chunks
    WHERE hypertable_schema = current_schema() AND hypertable_name = 'readings' AND is_compressed
    ORDER BY range_start`.execute(db);

  // Every materialized bucket, buckets older than the raw readings included
  // (raw data past retention is archived and dropped; its aggregates stay).
  for (const a of kept) {
    await sql`CREATE TEMP TABLE ${sql.table(keptTable(a))} ON COMMIT DROP AS SELECT * FROM ${sql.raw(a.matTable)}`.execute(
      db,
    );
    await sql`DROP MATERIALIZED VIEW ${sql.table(a.name)}`.execute(db);
  }
  for (const c of compressed) await sql`SELECT decompress_chunk(${c.chunk}::regclass)`.execute(db);
  if (compression) {
    await sql`SELECT remove_compression_policy('readings', if_exists => true)`.execute(db);
    await sql`ALTER TABLE readings SET (timescaledb.compress = false)`.execute(db);
  }

  await sql`ALTER TABLE readings ALTER COLUMN sensor_id TYPE ${sql.raw(type)}`.execute(db);

  if (compression) {
    const options: RawBuilder<unknown>[] = [sql`timescaledb.compress`];
    if (compression.segmentby) options.push(sql`timescaledb.compress_segmentby = ${sql.lit(compression.segmentby)}`);
    if (compression.orderby) options.push(sql`timescaledb.compress_orderby = ${sql.lit(compression.orderby)}`);
    await sql`ALTER TABLE readings SET (${sql.join(options)})`.execute(db);
    for (const job of compressionJobs.filter((j) => j.proc === "policy_compression")) {
      await restoreJob(
        db,
        job,
        sql`SELECT add_compression_policy('readings', compress_after => ${String(job.config.compress_after)}::interval,
                                          schedule_interval => ${job.schedule}::interval) AS id`,
      );
    }
  }
  for (const c of compressed) await sql`SELECT compress_chunk(${c.chunk}::regclass)`.execute(db);

  for (const a of kept) {
    await sql`
      CREATE MATERIALIZED VIEW ${sql.table(a.name)}
      WITH (timescaledb.continuous, timescaledb.materialized_only = ${sql.lit(a.materializedOnly)}) AS
      ${sql.raw(a.definition)}
      WITH NO DATA`.execute(db);
    const { rows } = await sql<{ mat_table: string }>`
      SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) AS mat_table
      FROM timescaledb_information.continuous_aggregates WHERE view_name = ${a.name}`.execute(db);
    const matTable = rows[0]!.mat_table;
    const { rows: columns } = await sql<{ name: string }>`
      SELECT quote_ident(attname) AS name FROM pg_attribute
      WHERE attrelid = ${matTable}::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`.execute(db);
    const list = sql.raw(columns.map((c) => c.name).join(", "));
    await sql`INSERT INTO ${sql.raw(matTable)} (${list}) SELECT ${list} FROM ${sql.table(keptTable(a))}`.execute(db);
    for (const job of a.jobs) {
      if (job.proc === "policy_refresh_continuous_aggregate") {
        await restoreJob(
          db,
          job,
          sql`SELECT add_continuous_aggregate_policy(${a.name},
                start_offset => ${String(job.config.start_offset)}::interval,
                end_offset => ${String(job.config.end_offset)}::interval,
                schedule_interval => ${job.schedule}::interval) AS id`,
        );
      } else if (job.proc === "policy_retention") {
        await restoreJob(
          db,
          job,
          sql`SELECT add_retention_policy(${a.name}, drop_after => ${String(job.config.drop_after)}::interval,
                                          schedule_interval => ${job.schedule}::interval) AS id`,
        );
      }
    }
  }
}

/** The TimescaleDB policy jobs on a relation, as they are configured now. */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
async function policyJobs(db: Kysely<any>, relation: string): Promise<PolicyJob[]> {
  const { rows } = await sql<{ proc: string; schedule: string; config: Record<string, unknown> }>`
    SELECT proc_name AS proc, schedule_interval::text AS schedule, config
    FROM timescaledb_information.jobs
    WHERE hypertable_name = ${relation}
      AND proc_name IN ('policy_compression', 'policy_refresh_continuous_aggregate', 'policy_retention')
    ORDER BY job_id`.execute(db);
  return rows;
}

/**
 * Adds a policy again, then gives it the old job's whole configuration
 * (settings the add function does not take, such as buckets_per_batch),
 * with the new ids of the relations it refers to.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
async function restoreJob(db: Kysely<any>, old: PolicyJob, add: RawBuilder<{ id: number }>): Promise<void> {
  const { rows } = await add.execute(db);
  const id = rows[0]!.id;
  await sql`
    SELECT alter_job(${id}, config => ${JSON.stringify(old.config)}::jsonb
      || jsonb_strip_nulls(jsonb_build_object(
           'hypertable_id', config -> 'hypertable_id', 'mat_hypertable_id', config -> 'mat_hypertable_id')))
    FROM timescaledb_information.jobs WHERE job_id = ${id}`.execute(db);
}

function keptTable(a: Aggregate): string {
  return `vigil_kept_${a.name}`;
}

function stripSemicolon(definition: string): string {
  return definition.trim().replace(/;$/, "");
}

// biome-ignore lint/suspicious/noExplicitAny: migrations run beneath the typed schema
async function hasTimescale(db: Kysely<any>): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`
    SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS present`.execute(db);
  return rows[0]?.present === true;
}

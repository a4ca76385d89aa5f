import { type Kysely, sql } from "kysely";
import { chooseStorageEngine } from "../storage-engine.ts";

/**
 * Devices, their keys, the sensor dictionary, readings and dead letters.
 * `readings` becomes a TimescaleDB hypertable when the extension can be used
 * (see chooseStorageEngine: installed but not preloaded stops the migration
 * with what to set), and otherwise a table partitioned by time with the same
 * columns, keys and indexes, so every query works on both engines.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // Decided before anything is created: a refusal leaves the database as it was.
  const timescale = (await chooseStorageEngine(db)) === "timescaledb";

  await sql`
    CREATE TABLE devices (
      id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      code        text NOT NULL CHECK (code ~ '^[A-Z]{1,16}$'),
      number      integer NOT NULL CHECK (number >= 1),
      created_at  timestamptz NOT NULL DEFAULT now(),
      disabled_at timestamptz,
      -- Highest batch seq written to readings: with the log holding only
      -- unwritten batches, this is where a device resumes after a restart.
      last_seq    bigint NOT NULL DEFAULT 0,
      UNIQUE (code, number)
    )`.execute(db);

  await sql`
    CREATE TABLE device_keys (
      id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      device_id  integer NOT NULL REFERENCES devices (id),
      prefix     text NOT NULL UNIQUE,
      hash       bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      revoked_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX device_keys_device_id ON device_keys (device_id)`.execute(db);

  // Readings store a 2-byte sensor id instead of repeating the name.
  await sql`
    CREATE TABLE sensors (
      id   smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_.]{0,63}$')
    )`.execute(db);

  // Fixed-width 8-byte columns first, then the 4- and 2-byte ids: no
  // alignment padding between columns in a row written millions of times.
  await sql`
    CREATE TABLE readings (
      time        timestamptz NOT NULL,
      value       double precision NOT NULL,
      seq         bigint NOT NULL,
      received_at timestamptz NOT NULL,
      updated_at  timestamptz,
      deleted_at  timestamptz,
      device_id   integer NOT NULL,
      sensor_id   smallint NOT NULL
    ) ${timescale ? sql`` : sql`PARTITION BY RANGE (time)`}`.execute(db);
  // The delivery contract's last line of defence against duplicates, and
  // the index behind every per-device and per-sensor query.
  await sql`
    CREATE UNIQUE INDEX readings_device_sensor_time
      ON readings (device_id, sensor_id, time)`.execute(db);

  if (timescale) {
    await sql`CREATE EXTENSION IF NOT EXISTS timescaledb`.execute(db);
    // One chunk per day: a day of a large fleet's readings plus its indexes
    // fits comfortably in memory, and retention drops whole days.
    await sql`
      SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'))`.execute(db);
  } else {
    // create_hypertable adds this index itself.
    await sql`CREATE INDEX readings_time ON readings (time DESC)`.execute(db);
    // Daily partitions are created ahead (and old rows moved out of here)
    // by the lifecycle service; the DEFAULT partition catches every time that has
    // no partition yet, so an insert never fails for want of one.
    await sql`CREATE TABLE readings_default PARTITION OF readings DEFAULT`.execute(db);
  }

  await sql`
    CREATE TABLE dead_letters (
      id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      device_id  integer REFERENCES devices (id),
      seq        bigint,
      source     text NOT NULL,
      reason     text NOT NULL,
      violations jsonb NOT NULL DEFAULT '[]',
      payload    bytea,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX dead_letters_created_at ON dead_letters (created_at DESC)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ["dead_letters", "readings", "sensors", "device_keys", "devices"]) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}

import { type Kysely, sql } from "kysely";

/**
 * The fleet behind the readings: device lifecycle fields (manufacturer,
 * serial number, firmware, status, soft delete), sites, procedures with
 * their outcomes, maintenance records and the latest maintenance forecast
 * per robot and component; the clinician and technician roles.
 *
 * Surgeons and patients are stored as pseudonymous identifiers only
 * (checked by @vigil/procedures before they get here); outcomes are coded
 * values, with no free text.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE devices
      ADD COLUMN manufacturer  text NOT NULL DEFAULT '',
      ADD COLUMN serial_number text NOT NULL DEFAULT '',
      ADD COLUMN firmware      text NOT NULL DEFAULT '',
      ADD COLUMN status        text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'in_maintenance', 'retired')),
      ADD COLUMN deleted_at    timestamptz`.execute(db);

  await sql`ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check`.execute(db);
  await sql`
    ALTER TABLE users ADD CONSTRAINT users_role_check
      CHECK (role IN ('admin', 'user', 'clinician', 'technician'))`.execute(db);

  await sql`
    CREATE TABLE sites (
      id                      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      name                    text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
      display_name            text NOT NULL DEFAULT '',
      time_zone               text NOT NULL DEFAULT 'UTC',
      available_hours_per_day double precision NOT NULL DEFAULT 24
        CHECK (available_hours_per_day > 0 AND available_hours_per_day <= 24),
      created_at              timestamptz NOT NULL DEFAULT now(),
      updated_at              timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE procedures (
      id                   uuid PRIMARY KEY,
      device_id            integer NOT NULL REFERENCES devices (id),
      site                 text NOT NULL DEFAULT '',
      type                 text NOT NULL,
      surgeon_id           text NOT NULL,
      patient_id           text NOT NULL,
      started_at           timestamptz NOT NULL,
      ended_at             timestamptz,
      state                text NOT NULL CHECK (state IN ('in_progress', 'completed', 'aborted')),
      outcome_result       text CHECK (outcome_result IN ('success', 'complications', 'converted', 'aborted')),
      outcome_grade        smallint CHECK (outcome_grade BETWEEN 0 AND 5),
      outcome_blood_loss_ml integer CHECK (outcome_blood_loss_ml BETWEEN 0 AND 100000),
      outcome_codes        text[] NOT NULL DEFAULT '{}',
      outcome_recorded_at  timestamptz,
      created_at           timestamptz NOT NULL DEFAULT now(),
      CHECK (ended_at IS NULL OR ended_at >= started_at),
      CHECK ((state = 'in_progress') = (ended_at IS NULL))
    )`.execute(db);
  // A robot performs one procedure at a time.
  await sql`CREATE UNIQUE INDEX procedures_one_open ON procedures (device_id) WHERE ended_at IS NULL`.execute(db);
  // Per robot, newest first (ListProcedures, telemetry, the summary per robot) and the fleet by time.
  await sql`CREATE INDEX procedures_device_started ON procedures (device_id, started_at DESC, id)`.execute(db);
  await sql`CREATE INDEX procedures_started ON procedures (started_at DESC, id)`.execute(db);
  await sql`CREATE INDEX procedures_surgeon ON procedures (surgeon_id, started_at DESC)`.execute(db);

  await sql`
    CREATE TABLE maintenance_records (
      id          uuid PRIMARY KEY,
      device_id   integer NOT NULL REFERENCES devices (id),
      site        text NOT NULL DEFAULT '',
      kind        text NOT NULL CHECK (kind IN ('preventive', 'corrective')),
      started_at  timestamptz NOT NULL,
      -- started_at + downtime: when the robot was back in service.
      ended_at    timestamptz NOT NULL,
      components  text[] NOT NULL DEFAULT '{}',
      parts       jsonb NOT NULL DEFAULT '[]',
      cost_minor  bigint NOT NULL DEFAULT 0 CHECK (cost_minor >= 0),
      currency    text NOT NULL DEFAULT '',
      technician  text NOT NULL DEFAULT '',
      notes       text NOT NULL DEFAULT '',
      recorded_by text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      CHECK (ended_at >= started_at)
    )`.execute(db);
  await sql`CREATE INDEX maintenance_records_device ON maintenance_records (device_id, started_at DESC, id)`.execute(
    db,
  );
  await sql`CREATE INDEX maintenance_records_started ON maintenance_records (started_at DESC, id)`.execute(db);

  // The latest forecast per robot and component, replaced by each recomputation.
  await sql`
    CREATE TABLE maintenance_forecasts (
      device_id         integer NOT NULL REFERENCES devices (id),
      component         text NOT NULL,
      sensor            text NOT NULL,
      threshold         double precision NOT NULL,
      fails_above       boolean NOT NULL,
      status            text NOT NULL,
      current_value     double precision,
      slope_per_day     double precision,
      crossing_at       timestamptz,
      crossing_earliest timestamptz,
      crossing_latest   timestamptz,
      last_reset_at     timestamptz,
      points            integer NOT NULL,
      data_start        timestamptz,
      data_end          timestamptz,
      computed_at       timestamptz NOT NULL,
      PRIMARY KEY (device_id, component)
    )`.execute(db);
  // Soonest first: forecasts without a crossing sort last.
  await sql`
    CREATE INDEX maintenance_forecasts_soonest
      ON maintenance_forecasts ((COALESCE(crossing_at, 'infinity')), device_id, component)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS maintenance_forecasts, maintenance_records, procedures, sites`.execute(db);
  await sql`ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check`.execute(db);
  await sql`ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'user'))`.execute(db);
  await sql`
    ALTER TABLE devices
      DROP COLUMN manufacturer, DROP COLUMN serial_number, DROP COLUMN firmware,
      DROP COLUMN status, DROP COLUMN deleted_at`.execute(db);
}

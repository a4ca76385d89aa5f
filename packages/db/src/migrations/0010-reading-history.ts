import { type Kysely, sql } from "kysely";

/**
 * Corrections of readings keep every prior value. `reading_corrections` has
 * one row per call (who, when, why, which device and range, what it asked),
 * `reading_history` one row per reading it changed, with the reading before
 * and after: a value correction, a move to another sensor or time, a soft
 * delete or an undelete. Plain tables on both engines, apart from the
 * hypertable, so compression, chunk drops and archiving of `readings` never
 * touch them. A reading's history is followed from its current key backwards
 * (after → before), which is why both keys are indexed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE reading_corrections (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at          timestamptz NOT NULL DEFAULT now(),
      actor       text NOT NULL,
      action      text NOT NULL CHECK (action IN ('update', 'delete', 'undelete')),
      device_id   integer NOT NULL REFERENCES devices (id),
      range_start timestamptz NOT NULL,
      range_end   timestamptz NOT NULL,
      sensor_id   integer,
      changes     jsonb NOT NULL DEFAULT '{}',
      reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
      rows        integer NOT NULL DEFAULT 0,
      trace_id    text
    )`.execute(db);
  await sql`
    CREATE TABLE reading_history (
      correction_id  bigint NOT NULL REFERENCES reading_corrections (id),
      device_id      integer NOT NULL,
      sensor_id      integer NOT NULL,
      time           timestamptz NOT NULL,
      value          double precision NOT NULL,
      deleted_at     timestamptz,
      new_sensor_id  integer NOT NULL,
      new_time       timestamptz NOT NULL,
      new_value      double precision NOT NULL,
      new_deleted_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX reading_history_after ON reading_history (device_id, new_sensor_id, new_time, correction_id)`.execute(
    db,
  );
  await sql`CREATE INDEX reading_history_before ON reading_history (device_id, sensor_id, time, correction_id)`.execute(
    db,
  );
  await sql`CREATE INDEX reading_history_correction ON reading_history (correction_id, sensor_id, time)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS reading_history`.execute(db);
  await sql`DROP TABLE IF EXISTS reading_corrections`.execute(db);
}

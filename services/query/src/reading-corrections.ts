import {
  type Database,
  type Kysely,
  lookupSensors,
  type QueryResult,
  type RawBuilder,
  recordAudit,
  sql,
} from "@vigil/db";
import { FailedPreconditionError, NotFoundError } from "./errors.ts";
import { sensorId } from "./readings-repository.ts";

/** What a correction applies to: one device, a time range, optionally one sensor. */
export interface CorrectionScope {
  deviceCode: string;
  deviceNumber: number;
  sensor?: string;
  /** Inclusive, ms since the epoch. */
  startMs: number;
  /** Exclusive. */
  endMs: number;
}

export interface CorrectionChanges {
  sensor?: string;
  value?: number;
  timeMs?: number;
}

export type CorrectionAction = "update" | "delete" | "undelete";

export interface CorrectionRequest {
  action: CorrectionAction;
  scope: CorrectionScope;
  /** For updates: at least one field. */
  changes?: CorrectionChanges;
  reason: string;
  actor: string;
  traceId?: string;
  /** Most readings one call may change (QUERY_MAX_CORRECTION_ROWS). */
  maxRows: number;
}

export interface CorrectionOutcome {
  count: number;
  correctionId: number;
}

/** Advisory lock key of one device's corrections: "VIGC". */
const CORRECTION_LOCK = 0x56494743;

const AUDIT_ACTIONS: Record<CorrectionAction, string> = {
  update: "readings.update",
  delete: "readings.delete",
  undelete: "readings.undelete",
};

/** A timestamptz from a column of whole microseconds since the epoch, as SQL. */
const fromMicros = (column: string) => sql.raw(`(TIMESTAMPTZ 'epoch' + ${column} * INTERVAL '1 microsecond')`);

/** The same from a value (bound as a parameter). */
const atMicros = (us: string) => sql`(TIMESTAMPTZ 'epoch' + ${us}::int8 * INTERVAL '1 microsecond')`;

interface TargetRow {
  sensor_id: number;
  /** Microseconds since the epoch: the key, exactly (a Date keeps milliseconds only). */
  time_us: string;
  value: number;
  deleted_us: string | null;
  seq: string;
  received_us: string;
  /** Provenance (migration 0018), carried over when a correction moves the reading. */
  source_id: number | null;
}

/**
 * Applies one correction in one transaction and keeps what it changed:
 * a `reading_corrections` row, a `reading_history` row per reading (before
 * and after) and an audit entry naming the correction. One device's
 * corrections run one at a time (advisory lock), so the values kept as
 * "before" are the ones the change replaced. A filter matching more than
 * `maxRows` readings changes nothing (FailedPrecondition).
 *
 * Value, delete and undelete change rows in place. A new sensor or time
 * moves the reading to another key: it is deleted and inserted again with
 * its seq and received_at (an UPDATE cannot move a row to another
 * TimescaleDB chunk).
 */
export async function applyCorrection(db: Kysely<Database>, req: CorrectionRequest): Promise<CorrectionOutcome> {
  const { scope } = req;
  return db.transaction().execute(async (tx) => {
    const device = await tx
      .selectFrom("devices")
      .select("id")
      .where("code", "=", scope.deviceCode)
      .where("number", "=", scope.deviceNumber)
      .executeTakeFirst();
    if (!device) throw new NotFoundError(`device ${scope.deviceCode}-${scope.deviceNumber} does not exist`);
    const deviceId = device.id;
    await sql`SELECT pg_advisory_xact_lock(${CORRECTION_LOCK}, ${deviceId})`.execute(tx);
    let filterSensor: number | undefined;
    if (scope.sensor !== undefined) {
      filterSensor = (await lookupSensors(tx, [scope.sensor])).get(scope.sensor);
    }
    const start = new Date(scope.startMs);
    const end = new Date(scope.endMs);
    const wantDeleted = req.action === "undelete";
    const rows =
      scope.sensor !== undefined && filterSensor === undefined
        ? []
        : (
            await sql<TargetRow>`
              SELECT sensor_id, ${micros("time")} AS time_us, value, ${micros("deleted_at")} AS deleted_us,
                     seq::text AS seq, ${micros("received_at")} AS received_us, source_id
              FROM readings
              WHERE device_id = ${deviceId} AND time >= ${start} AND time < ${end}
                ${filterSensor === undefined ? sql`` : sql`AND sensor_id = ${filterSensor}`}
                AND deleted_at IS ${wantDeleted ? sql`NOT NULL` : sql`NULL`}
              ORDER BY sensor_id, time
              LIMIT ${req.maxRows + 1}`.execute(tx)
          ).rows;
    if (rows.length > req.maxRows) {
      throw new FailedPreconditionError(
        `the filter matches more than ${req.maxRows} readings; one correction changes at most ${req.maxRows} ` +
          "(QUERY_MAX_CORRECTION_ROWS): narrow the time range or name a sensor",
      );
    }
    const changes = req.changes ?? {};
    const newSensor = changes.sensor === undefined ? undefined : await sensorId(tx, changes.sensor);
    const { id: correctionId } = await tx
      .insertInto("reading_corrections")
      .values({
        actor: req.actor,
        action: req.action,
        device_id: deviceId,
        range_start: start,
        range_end: end,
        sensor_id: filterSensor ?? null,
        changes: JSON.stringify(req.action === "update" ? changes : {}),
        reason: req.reason,
        rows: rows.length,
        trace_id: req.traceId ?? null,
      })
      .returning("id")
      .executeTakeFirstOrThrow();

    if (rows.length > 0) {
      const nowUs = String(Date.now() * 1000);
      const after = rows.map((r) => ({
        sensor: newSensor ?? r.sensor_id,
        timeUs: changes.timeMs === undefined ? r.time_us : String(changes.timeMs * 1000),
        value: changes.value ?? r.value,
        deletedUs: req.action === "delete" ? nowUs : req.action === "undelete" ? null : r.deleted_us,
      }));
      await sql`
        INSERT INTO reading_history (correction_id, device_id, sensor_id, time, value, deleted_at,
                                     new_sensor_id, new_time, new_value, new_deleted_at)
        SELECT ${correctionId}, ${deviceId}, s, ${fromMicros("t")}, v, ${fromMicros("del")},
               ns, ${fromMicros("nt")}, nv, ${fromMicros("ndel")}
        FROM unnest(${rows.map((r) => r.sensor_id)}::int4[], ${rows.map((r) => r.time_us)}::int8[],
                    ${rows.map((r) => r.value)}::float8[], ${rows.map((r) => r.deleted_us)}::int8[],
                    ${after.map((a) => a.sensor)}::int4[], ${after.map((a) => a.timeUs)}::int8[],
                    ${after.map((a) => a.value)}::float8[], ${after.map((a) => a.deletedUs)}::int8[])
          AS h(s, t, v, del, ns, nt, nv, ndel)`.execute(tx);
      const moves = newSensor !== undefined || changes.timeMs !== undefined;
      const keys = sql`unnest(${rows.map((r) => r.sensor_id)}::int4[], ${rows.map((r) => r.time_us)}::int8[]) AS k(s, t)`;
      const matchKeys = sql`r.device_id = ${deviceId} AND r.time >= ${start} AND r.time < ${end}
        AND r.sensor_id = k.s AND r.time = ${fromMicros("k.t")}`;
      let changed: number;
      if (!moves) {
        const set =
          req.action === "delete"
            ? sql`deleted_at = ${atMicros(nowUs)}`
            : req.action === "undelete"
              ? sql`deleted_at = NULL, updated_at = now()`
              : sql`value = ${changes.value ?? null}::float8, updated_at = now()`;
        const result = await sql`UPDATE readings AS r SET ${set} FROM ${keys} WHERE ${matchKeys}`.execute(tx);
        changed = Number(result.numAffectedRows ?? 0);
      } else {
        const removed = await sql`DELETE FROM readings AS r USING ${keys} WHERE ${matchKeys}`.execute(tx);
        changed = Number(removed.numAffectedRows ?? 0);
        await sql`
          INSERT INTO readings (time, value, seq, received_at, updated_at, deleted_at, device_id, sensor_id, source_id)
          SELECT ${fromMicros("t")}, v, q, ${fromMicros("rcv")}, now(), NULL, ${deviceId}, s, src
          FROM unnest(${after.map((a) => a.timeUs)}::int8[], ${after.map((a) => a.value)}::float8[],
                      ${rows.map((r) => r.seq)}::int8[], ${rows.map((r) => r.received_us)}::int8[],
                      ${after.map((a) => a.sensor)}::int4[],
                      -- A moved reading keeps its provenance.
                      ${rows.map((r) => r.source_id)}::int4[]) AS m(t, v, q, rcv, s, src)`
          .execute(tx)
          .catch((err: unknown) => {
            if ((err as { code?: string }).code === "23505") {
              throw new FailedPreconditionError(
                "the changes would give two readings of the same device and sensor the same time: narrow the filter",
              );
            }
            throw err;
          });
      }
      if (changed !== rows.length) {
        // Cannot happen while corrections hold the device's lock and ingest never changes a stored row.
        throw new Error(`correction ${correctionId} matched ${rows.length} readings but changed ${changed}`);
      }
    }
    await recordAudit(tx, {
      actor: req.actor,
      action: AUDIT_ACTIONS[req.action],
      target: `correction:${correctionId}`,
      details: {
        correctionId,
        device: `${scope.deviceCode}-${scope.deviceNumber}`,
        sensor: scope.sensor,
        startTime: start.toISOString(),
        endTime: end.toISOString(),
        ...(req.action === "update" ? { changes: auditChanges(changes) } : {}),
        ...(req.reason ? { reason: req.reason } : {}),
      },
      rowsAffected: rows.length,
      traceId: req.traceId,
    });
    return { count: rows.length, correctionId: Number(correctionId) };
  });
}

function auditChanges(c: CorrectionChanges) {
  return {
    ...(c.sensor !== undefined ? { sensor: c.sensor } : {}),
    ...(c.value !== undefined ? { value: c.value } : {}),
    ...(c.timeMs !== undefined ? { time: new Date(c.timeMs).toISOString() } : {}),
  };
}

/** A timestamptz column as whole microseconds since the epoch, in text (exact, unlike a Date). */
function micros(column: string) {
  return sql.raw(`(extract(epoch FROM ${column}) * 1000000)::bigint::text`);
}

/** One reading changed by one correction, with names resolved. */
export interface ReadingChangeRow {
  correctionId: number;
  action: CorrectionAction;
  actor: string;
  at: Date;
  reason: string;
  deviceCode: string;
  deviceNumber: number;
  before: { sensor: string; timeUs: string; value: number; deleted: boolean };
  after: { sensor: string; timeUs: string; value: number; deleted: boolean };
}

interface HistoryRow {
  correction_id: string;
  action: CorrectionAction;
  actor: string;
  at: Date;
  reason: string;
  code: string;
  number: number;
  sensor_id: number;
  sensor: string;
  time_us: string;
  value: number;
  deleted: boolean;
  new_sensor_id: number;
  new_sensor: string;
  new_time_us: string;
  new_value: number;
  new_deleted: boolean;
}

function historyQuery(db: Kysely<Database>, where: RawBuilder<unknown>, order: RawBuilder<unknown>, limit: number) {
  return sql<HistoryRow>`
    SELECT h.correction_id::text AS correction_id, c.action, c.actor, c.at, c.reason, d.code, d.number,
           h.sensor_id, s.name AS sensor, ${micros("h.time")} AS time_us, h.value, h.deleted_at IS NOT NULL AS deleted,
           h.new_sensor_id, ns.name AS new_sensor, ${micros("h.new_time")} AS new_time_us, h.new_value,
           h.new_deleted_at IS NOT NULL AS new_deleted
    FROM reading_history h
    JOIN reading_corrections c ON c.id = h.correction_id
    JOIN devices d ON d.id = h.device_id
    JOIN sensors s ON s.id = h.sensor_id
    JOIN sensors ns ON ns.id = h.new_sensor_id
    WHERE ${where}
    ORDER BY ${order}
    LIMIT ${limit}`.execute(db);
}

function toChange(r: HistoryRow): ReadingChangeRow {
  return {
    correctionId: Number(r.correction_id),
    action: r.action,
    actor: r.actor,
    at: r.at,
    reason: r.reason,
    deviceCode: r.code,
    deviceNumber: r.number,
    before: { sensor: r.sensor, timeUs: r.time_us, value: r.value, deleted: r.deleted },
    after: { sensor: r.new_sensor, timeUs: r.new_time_us, value: r.new_value, deleted: r.new_deleted },
  };
}

/** Most changes followed back from one reading. */
const MAX_HISTORY = 1_000;

/**
 * Every change that led to the reading now at (device, sensor, time),
 * oldest first. Followed backwards from the current key: the latest change
 * that put a reading there, then the one that put that reading at its
 * previous key, and so on. A change that moved a reading *away* from a key
 * after the last one that moved a reading *to* it means the reading there
 * now arrived later (from a device), and its history starts after that.
 */
export async function readingHistory(
  db: Kysely<Database>,
  key: { deviceCode: string; deviceNumber: number; sensor: string; timeUs: string },
): Promise<ReadingChangeRow[]> {
  const device = await db
    .selectFrom("devices")
    .select("id")
    .where("code", "=", key.deviceCode)
    .where("number", "=", key.deviceNumber)
    .executeTakeFirst();
  const sensor = (await lookupSensors(db, [key.sensor])).get(key.sensor);
  if (!device || sensor === undefined) return [];
  const changes: ReadingChangeRow[] = [];
  let at = { sensor, timeUs: key.timeUs };
  let before: string | null = null; // correction id bound (exclusive) for the next step back
  while (changes.length < MAX_HISTORY) {
    const bound: RawBuilder<unknown> = before === null ? sql`` : sql`AND correction_id < ${before}`;
    const result: QueryResult<{ into: string | null; away: string | null }> = await sql<{
      into: string | null;
      away: string | null;
    }>`
      SELECT (SELECT max(correction_id)::text FROM reading_history
              WHERE device_id = ${device.id} AND new_sensor_id = ${at.sensor}
                AND new_time = ${atMicros(at.timeUs)} ${bound}) AS into,
             (SELECT max(correction_id)::text FROM reading_history
              WHERE device_id = ${device.id} AND sensor_id = ${at.sensor} AND time = ${atMicros(at.timeUs)}
                AND (new_sensor_id <> sensor_id OR new_time <> time) ${bound}) AS away`.execute(db);
    const into: string | null = result.rows[0]?.into ?? null;
    const away: string | null = result.rows[0]?.away ?? null;
    if (into === null || (away !== null && BigInt(away) > BigInt(into))) break;
    const { rows } = await historyQuery(
      db,
      sql`h.correction_id = ${into} AND h.device_id = ${device.id} AND h.new_sensor_id = ${at.sensor}
          AND h.new_time = ${atMicros(at.timeUs)}`,
      sql`h.correction_id`,
      1,
    );
    const row = rows[0];
    if (!row) break;
    changes.push(toChange(row));
    at = { sensor: row.sensor_id, timeUs: row.time_us };
    before = into;
  }
  return changes.reverse();
}

/** The changes one correction made, in (sensor id, time) order, after a keyset position. */
export async function correctionChanges(
  db: Kysely<Database>,
  correctionId: number,
  page: { limit: number; after?: { sensorId: number; timeUs: string } },
): Promise<Array<ReadingChangeRow & { sensorId: number }>> {
  const after = page.after
    ? sql`AND (h.sensor_id, h.time) > (${page.after.sensorId}, ${atMicros(page.after.timeUs)})`
    : sql``;
  const { rows } = await historyQuery(
    db,
    sql`h.correction_id = ${correctionId} ${after}`,
    sql`h.sensor_id, h.time`,
    page.limit,
  );
  return rows.map((r) => ({ ...toChange(r), sensorId: r.sensor_id }));
}

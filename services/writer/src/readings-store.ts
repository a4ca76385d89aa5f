import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Attributes, context, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { suppressTracing } from "@opentelemetry/core";
import { type Database, inPgTransaction, type Kysely, sql, type VigilDatabase } from "@vigil/db";
import { tracer } from "@vigil/telemetry";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { COPY_COLUMNS, toCopyRows } from "./reading-copy.ts";
import { type DecodedDelivery, toReadingColumns } from "./reading-rows.ts";

/** What storing a group of batches did. */
export interface StoredGroup {
  /** Readings in the group. */
  readings: number;
  /** Rows actually inserted (readings minus ones already stored). */
  inserted: number;
}

/** Stores a group of decoded batches, and each device's newest seq, in one transaction. */
export type StoreReadings = (decoded: DecodedDelivery[], sensorIds: Map<string, number>) => Promise<StoredGroup>;

const UNIQUE_VIOLATION = "23505";

/**
 * On PostgreSQL, binary COPY: measured at about twice the rows per second
 * of `INSERT … SELECT FROM unnest(…)` for half of PostgreSQL's CPU
 * (`npm run bench:inserts`, docs/performance.md). COPY has no ON CONFLICT,
 * so a group holding a reading that is already stored (a redelivery) fails
 * with a unique violation and is written again with the INSERT, which
 * skips duplicates; `onFallback` counts those. The embedded engine has no
 * COPY FROM STDIN and always uses the INSERT.
 */
export function readingsStore(database: VigilDatabase, onFallback: () => void): StoreReadings {
  const insert: StoreReadings = (decoded, sensorIds) => insertReadings(database.db, decoded, sensorIds);
  const pool = database.pool;
  if (!pool) return insert;
  const span = copySpan(pool);
  return async (decoded, sensorIds) => {
    const rows = toCopyRows(decoded, sensorIds);
    try {
      return await inPgTransaction(pool, async (client) => {
        await copyIn(client, span, rows.data);
        const update = updateLastSeqs(decoded).compile(database.db);
        await client.query(update.sql, [...update.parameters]);
        return { readings: rows.rows, inserted: rows.rows };
      });
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      onFallback();
      return insert(decoded, sensorIds);
    }
  };
}

const COPY_READINGS = `COPY readings (${COPY_COLUMNS}) FROM STDIN (FORMAT binary)`;

/** What the COPY span says, the same for every COPY through one pool. */
interface CopySpan {
  name: string;
  attributes: Attributes;
}

/** A `pg.query:COPY <database>` span's name and attributes, as the pg instrumentation would give them. */
function copySpan(pool: pg.Pool): CopySpan {
  const server = new URL(pool.options.connectionString ?? "postgres://localhost/");
  const database = decodeURIComponent(server.pathname.slice(1));
  return {
    name: `pg.query:COPY ${database}`,
    attributes: {
      "db.system.name": "postgresql",
      "db.namespace": database,
      "db.query.text": COPY_READINGS,
      "server.address": server.hostname,
      "server.port": Number(server.port || 5432),
    },
  };
}

/**
 * Streams `data` into `readings` inside its own COPY span: the pg
 * instrumentation starts a span for a COPY stream but never ends it (it
 * only knows callbacks and promises), so its span is suppressed here.
 */
async function copyIn(client: pg.PoolClient, copy: CopySpan, data: Buffer): Promise<void> {
  const span = tracer.startSpan(copy.name, { kind: SpanKind.CLIENT, attributes: copy.attributes });
  try {
    await context.with(suppressTracing(context.active()), () =>
      pipeline(Readable.from([data]), client.query(copyFrom(COPY_READINGS))),
    );
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** The INSERT path: any engine, duplicates skipped by the unique key. */
async function insertReadings(
  db: Kysely<Database>,
  decoded: DecodedDelivery[],
  sensorIds: Map<string, number>,
): Promise<StoredGroup> {
  const c = toReadingColumns(decoded, sensorIds);
  return db.transaction().execute(async (tx) => {
    const result = await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id, source_id)
      SELECT to_timestamp(t / 1000.0), v, q, to_timestamp(r / 1000.0), d, s, src
      FROM unnest(${c.timesMs}::float8[], ${c.values}::float8[], ${c.seqs}::int8[],
                  ${c.receivedAtMs}::float8[], ${c.deviceIds}::int4[], ${c.sensorIds}::int4[],
                  ${c.sourceIds}::int4[])
        AS u(t, v, q, r, d, s, src)
      ON CONFLICT DO NOTHING`.execute(tx);
    await updateLastSeqs(decoded).execute(tx);
    return { readings: c.rows, inserted: Number(result.numAffectedRows ?? 0) };
  });
}

/**
 * Once acked, a batch leaves the log: `devices.last_seq` remembers where
 * each device is. One statement for the group, with each device's highest seq.
 */
function updateLastSeqs(decoded: DecodedDelivery[]) {
  const latest = new Map<number, number>();
  for (const d of decoded) latest.set(d.deviceId, Math.max(latest.get(d.deviceId) ?? 0, d.batch.seq));
  const ids = `{${[...latest.keys()].join(",")}}`;
  const seqs = `{${[...latest.values()].join(",")}}`;
  return sql`
    UPDATE devices SET last_seq = v.seq
    FROM unnest(${ids}::int4[], ${seqs}::int8[]) AS v(id, seq)
    WHERE devices.id = v.id AND devices.last_seq < v.seq`;
}

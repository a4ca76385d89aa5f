import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/**
 * A unit of raw readings storage: a TimescaleDB chunk or a daily partition.
 * Retention and the archive work on whole units.
 */
export interface ReadingUnit {
  /** Qualified, quoted relation name, e.g. `_timescaledb_internal._hyper_1_3_chunk` or `readings_p20250103`. */
  relation: string;
  startMs: number;
  endMs: number;
  /** TimescaleDB compression state; false on plain PostgreSQL. */
  compressed: boolean;
}

/** Every unit of `readings` with a bounded range (not DEFAULT), oldest first. */
export async function listReadingUnits(db: Kysely<Database>, timescale: boolean): Promise<ReadingUnit[]> {
  if (timescale) {
    const { rows } = await sql<{ relation: string; start_ms: number; end_ms: number; compressed: boolean }>`
      SELECT format('%I.%I', chunk_schema, chunk_name) AS relation,
             (extract(epoch FROM range_start) * 1000)::float8 AS start_ms,
             (extract(epoch FROM range_end) * 1000)::float8 AS end_ms,
             is_compressed AS compressed
      FROM timescaledb_information.chunks
      WHERE hypertable_schema = current_schema() AND hypertable_name = 'readings'
      ORDER BY range_start`.execute(db);
    return rows.map((r) => ({
      relation: r.relation,
      startMs: Number(r.start_ms),
      endMs: Number(r.end_ms),
      compressed: r.compressed === true,
    }));
  }
  const { rows } = await sql<{ relation: string; start_ms: number; end_ms: number }>`
    SELECT format('%I', relname) AS relation,
           (extract(epoch FROM b[1]::timestamptz) * 1000)::float8 AS start_ms,
           (extract(epoch FROM b[2]::timestamptz) * 1000)::float8 AS end_ms
    FROM (
      SELECT c.relname,
             regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS b
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'readings'::regclass
    ) AS p
    WHERE b IS NOT NULL
    ORDER BY 2`.execute(db);
  return rows.map((r) => ({
    relation: r.relation,
    startMs: Number(r.start_ms),
    endMs: Number(r.end_ms),
    compressed: false,
  }));
}

/** Drops one unit with its rows. Run it inside the transaction that verified the unit's archive. */
export async function dropReadingUnit(db: Kysely<Database>, unit: ReadingUnit, timescale: boolean): Promise<void> {
  if (timescale) {
    // Exactly this chunk: drop_chunks takes chunks wholly inside [newer_than, older_than).
    await sql`
      SELECT drop_chunks('readings', older_than => ${new Date(unit.endMs)}::timestamptz,
                         newer_than => ${new Date(unit.startMs)}::timestamptz)`.execute(db);
  } else {
    await sql`DROP TABLE ${sql.raw(unit.relation)}`.execute(db);
  }
}

import { type Kysely, sql } from "kysely";
import { DAY_MS } from "./lifecycle-settings.ts";
import type { Database } from "./schema.ts";

/** Daily partitions created ahead of time on plain PostgreSQL. */
export const PARTITION_DAYS_AHEAD = 3;

export interface PartitionOutcome {
  /** Partitions created empty. */
  created: string[];
  /** Partitions created for rows that had landed in `readings_default`, with the rows moved. */
  adopted: Array<{ name: string; rows: number }>;
}

/** The daily partition holding a UTC day: readings_p20250103. */
export function partitionName(dayStartMs: number): string {
  return `readings_p${new Date(dayStartMs).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/**
 * Plain PostgreSQL only: makes sure daily partitions exist from yesterday to
 * `daysAhead` days ahead, and gives every day that has rows in the DEFAULT
 * partition (a lifecycle service outage, readings from long ago, a restore from the
 * archive) its own partition, moving the rows there. Inserts never depend on
 * this: whatever has no partition lands in DEFAULT.
 */
export async function maintainPartitions(
  db: Kysely<Database>,
  nowMs: number,
  daysAhead = PARTITION_DAYS_AHEAD,
): Promise<PartitionOutcome> {
  const outcome: PartitionOutcome = { created: [], adopted: [] };
  const existing = new Set(await partitionNames(db));
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const days = new Set<number>();
  for (let day = today - DAY_MS; day <= today + daysAhead * DAY_MS; day += DAY_MS) days.add(day);
  const inDefault = new Set(await daysInDefault(db));
  for (const day of [...days, ...inDefault]) {
    const name = partitionName(day);
    // A partition of that name exists and DEFAULT still has rows of its day
    // only if someone changed the layout by hand: leave those for an operator.
    if (existing.has(name)) continue;
    existing.add(name);
    if (!inDefault.has(day) && (await createEmpty(db, name, day))) outcome.created.push(name);
    else outcome.adopted.push({ name, rows: await adopt(db, name, day) });
  }
  return outcome;
}

/**
 * Plain PostgreSQL only: creates the daily partitions of [startMs, endMs)
 * that do not exist yet, so a bulk load of old readings (the demo seed)
 * lands in them instead of in DEFAULT. Days with rows already in DEFAULT
 * are left to maintainPartitions. Returns the partitions created.
 */
export async function createPartitions(db: Kysely<Database>, startMs: number, endMs: number): Promise<string[]> {
  const existing = new Set(await partitionNames(db));
  const created: string[] = [];
  for (let day = Math.floor(startMs / DAY_MS) * DAY_MS; day < endMs; day += DAY_MS) {
    const name = partitionName(day);
    if (!existing.has(name) && (await createEmpty(db, name, day))) created.push(name);
  }
  return created;
}

async function partitionNames(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'readings'::regclass`.execute(db);
  return rows.map((r) => r.name);
}

async function daysInDefault(db: Kysely<Database>): Promise<number[]> {
  const { rows } = await sql<{ day: number }>`
    SELECT DISTINCT (floor(extract(epoch FROM time) / 86400) * 86400000)::float8 AS day
    FROM readings_default ORDER BY 1`.execute(db);
  return rows.map((r) => Number(r.day));
}

function bounds(dayStartMs: number) {
  return {
    from: sql.lit(new Date(dayStartMs).toISOString()),
    to: sql.lit(new Date(dayStartMs + DAY_MS).toISOString()),
  };
}

/** Creates an empty partition; false when rows for the day already sit in DEFAULT. */
async function createEmpty(db: Kysely<Database>, name: string, dayStartMs: number): Promise<boolean> {
  const { from, to } = bounds(dayStartMs);
  try {
    await sql`CREATE TABLE ${sql.table(name)} PARTITION OF readings FOR VALUES FROM (${from}) TO (${to})`.execute(db);
    return true;
  } catch (err) {
    // 23514: "updated partition constraint for default partition would be violated"
    if ((err as { code?: string }).code === "23514") return false;
    throw err;
  }
}

/**
 * Moves a day's rows out of DEFAULT into a new partition in one transaction:
 * PostgreSQL refuses to attach a partition while DEFAULT holds rows of its
 * range. Inserts into `readings` wait meanwhile (usually milliseconds: DEFAULT
 * holds little), so none is routed by the old partition set into DEFAULT
 * after the new partition took its range.
 */
async function adopt(db: Kysely<Database>, name: string, dayStartMs: number): Promise<number> {
  const { from, to } = bounds(dayStartMs);
  return db.transaction().execute(async (tx) => {
    // Parent first, then DEFAULT: the order inserts take them in, so no deadlock.
    await sql`LOCK TABLE readings IN SHARE ROW EXCLUSIVE MODE`.execute(tx);
    await sql`LOCK TABLE readings_default IN ACCESS EXCLUSIVE MODE`.execute(tx);
    await sql`CREATE TABLE ${sql.table(name)} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`.execute(tx);
    const moved = await sql`
      WITH moved AS (DELETE FROM readings_default WHERE time >= ${from} AND time < ${to} RETURNING *)
      INSERT INTO ${sql.table(name)} SELECT * FROM moved`.execute(tx);
    await sql`ALTER TABLE readings ATTACH PARTITION ${sql.table(name)} FOR VALUES FROM (${from}) TO (${to})`.execute(
      tx,
    );
    return Number(moved.numAffectedRows ?? 0);
  });
}

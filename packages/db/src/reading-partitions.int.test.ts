import { createTestDatabase } from "@vigil/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DAY_MS, MINUTE_MS } from "./lifecycle-settings.ts";
import { migrateToLatest } from "./migrate.ts";
import { openDatabase, type VigilDatabase } from "./open-database.ts";
import { maintainPartitions, PARTITION_DAYS_AHEAD, partitionName } from "./reading-partitions.ts";
import { listReadingUnits } from "./reading-units.ts";
import { insertSynthetic, type SyntheticReading } from "./testing/synthetic-readings.ts";

describe("readings partitions on plain PostgreSQL", () => {
  let database: VigilDatabase;
  const now = Date.now();
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const reading = (timeMs: number): SyntheticReading => ({
    deviceCode: "OR",
    deviceNumber: 1,
    sensor: "motor.temp_c",
    timeMs,
    value: 1,
    deleted: false,
  });
  const inDefault = async () => {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM readings_default`.execute(database.db);
    return rows[0]!.n;
  };

  beforeAll(async () => {
    database = await openDatabase(await createTestDatabase(inject("postgresUrl"), "partitions"));
    await migrateToLatest(database.db);
  });
  afterAll(() => database?.close());

  it("creates daily partitions from yesterday to a few days ahead when migrating", async () => {
    const units = await listReadingUnits(database.db, false);
    expect(units.map((u) => u.relation)).toEqual(
      Array.from({ length: PARTITION_DAYS_AHEAD + 2 }, (_, i) => partitionName(today + (i - 1) * DAY_MS)),
    );
    expect(units[0]).toMatchObject({ startMs: today - DAY_MS, endMs: today });
  });

  it("accepts a reading at any time in the accepted window, partition or not", async () => {
    // The oldest the receiver accepts (a year), a restored reading from long ago, and the future limit.
    const times = [now - 365 * DAY_MS + MINUTE_MS, now - 3 * 365 * DAY_MS, now + 5 * MINUTE_MS, now + 30 * DAY_MS];
    await insertSynthetic(database.db, times.map(reading));
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM readings`.execute(database.db);
    expect(rows[0]!.n).toBe(times.length);
    expect(await inDefault()).toBe(3);
  });

  it("moves rows out of DEFAULT into their own day's partition, and creates partitions ahead", async () => {
    const outcome = await maintainPartitions(database.db, now + 2 * DAY_MS);
    expect(outcome.created).toEqual([
      partitionName(today + (PARTITION_DAYS_AHEAD + 1) * DAY_MS),
      partitionName(today + (PARTITION_DAYS_AHEAD + 2) * DAY_MS),
    ]);
    expect(outcome.adopted.map((a) => a.rows)).toEqual([1, 1, 1]);
    expect(await inDefault()).toBe(0);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM readings`.execute(database.db);
    expect(rows[0]!.n).toBe(4);
    // Nothing left to do on the next run.
    expect(await maintainPartitions(database.db, now + 2 * DAY_MS)).toEqual({ created: [], adopted: [] });
  });

  it("loses no insert that races with moving its day out of DEFAULT", async () => {
    const day = today - 100 * DAY_MS;
    await insertSynthetic(database.db, [reading(day)]);
    // A device backfilling that day, batch after batch, while the lifecycle service partitions it.
    const backfill = (async () => {
      for (let i = 1; i <= 40; i++) await insertSynthetic(database.db, [reading(day + i * 1_000)]);
    })();
    await new Promise((r) => setTimeout(r, 5));
    const outcome = await maintainPartitions(database.db, now + 2 * DAY_MS);
    await backfill;
    expect(outcome.adopted.map((a) => a.name)).toEqual([partitionName(day)]);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM ${sql.table(partitionName(day))}`.execute(database.db);
    expect(rows[0]!.n).toBe(41);
    expect(await inDefault()).toBe(0);
  });
});

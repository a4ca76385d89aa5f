import { migrateToLatest, openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { DecodedDelivery } from "./reading-rows.ts";
import { readingsStore } from "./readings-store.ts";
import { SensorDictionary } from "./sensor-dictionary.ts";

describe("readingsStore on PostgreSQL (binary COPY)", () => {
  let database: VigilDatabase;
  let deviceId: number;
  let sensors: SensorDictionary;
  let fallbacks = 0;

  beforeAll(async () => {
    database = await openDatabase(await createTestDatabase(inject("postgresUrl")));
    await migrateToLatest(database.db);
    const created = await createDevice({ db: database.db, actor: "system:test" }, { code: "ST", number: 1 });
    deviceId = created.id;
    sensors = new SensorDictionary(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });

  const store = () => readingsStore(database, () => fallbacks++);
  const batch = (
    seq: number,
    times: number[],
    values: number[],
    storedAtMs: number,
    sourceId: number | null = null,
  ): DecodedDelivery => ({
    deviceId,
    storedAtMs,
    sourceId,
    batch: { seq, series: [{ sensor: "temp", times: Float64Array.from(times), values: Float64Array.from(values) }] },
  });
  const rows = async () =>
    (
      await sql<{ ms: number; value: number; seq: number; received_ms: number; source_id: number | null }>`
        SELECT extract(epoch FROM time) * 1000 AS ms, value, seq, extract(epoch FROM received_at) * 1000 AS received_ms,
               source_id
        FROM readings ORDER BY time`.execute(database.db)
    ).rows.map((r) => ({ ...r, ms: Number(r.ms), received_ms: Number(r.received_ms) }));

  it("stores every column exactly, sub-millisecond times and extreme values included", async () => {
    const now = Date.now();
    const source = await database.db
      .insertInto("reading_sources")
      .values({ device_id: deviceId, key_prefix: "abc", receiver: "receiver-0" })
      .returning("id")
      .executeTakeFirstOrThrow();
    // One batch with provenance, one without (a message from before it, or a replay).
    const group = [
      batch(1, [now - 2000.5, now - 1999.25], [-0.000001, 1e300], now + 0.125, source.id),
      batch(2, [now - 1000, now - 999], [Math.PI, -273.15], now + 1),
    ];
    const ids = await sensors.resolve(["temp"]);
    expect(await store()(group, ids)).toEqual({ readings: 4, inserted: 4 });
    expect(await rows()).toEqual([
      { ms: now - 2000.5, value: -0.000001, seq: 1, received_ms: now + 0.125, source_id: source.id },
      { ms: now - 1999.25, value: 1e300, seq: 1, received_ms: now + 0.125, source_id: source.id },
      { ms: now - 1000, value: Math.PI, seq: 2, received_ms: now + 1, source_id: null },
      { ms: now - 999, value: -273.15, seq: 2, received_ms: now + 1, source_id: null },
    ]);
    const device = await database.db
      .selectFrom("devices")
      .select("last_seq")
      .where("id", "=", deviceId)
      .executeTakeFirst();
    expect(Number(device?.last_seq)).toBe(2);
    expect(fallbacks).toBe(0);
  });

  it("falls back to INSERT … ON CONFLICT DO NOTHING when a group holds readings already stored", async () => {
    const before = await rows();
    const now = before[3]!.ms;
    const ids = await sensors.resolve(["temp"]);
    // A redelivered batch next to a new one: the COPY fails on the unique key, the INSERT skips the old rows.
    const group = [batch(2, [now - 1, now], [Math.PI, -273.15], now), batch(3, [now + 1], [42], now + 2, 7)];
    expect(await store()(group, ids)).toEqual({ readings: 3, inserted: 1 });
    expect(fallbacks).toBe(1);
    const after = await rows();
    expect(after).toHaveLength(5);
    expect(after.slice(0, 4)).toEqual(before);
    expect(after[4]).toMatchObject({ ms: now + 1, value: 42, seq: 3, source_id: 7 });
  });

  it("leaves nothing behind when the group fails for another reason", async () => {
    const count = (await rows()).length;
    const ids = await sensors.resolve(["temp"]);
    // Before 4713 BC: PostgreSQL refuses the timestamp ("timestamp out of range"), not a duplicate.
    const group = [batch(9, [Date.now() + 10], [1], Date.now()), batch(10, [-3e14], [1], Date.now())];
    await expect(store()(group, ids)).rejects.toMatchObject({ code: "22008" });
    expect((await rows()).length).toBe(count);
    expect(fallbacks).toBe(1);
  });
});

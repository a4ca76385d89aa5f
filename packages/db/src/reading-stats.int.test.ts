import { createTestDatabase, timescaleServer } from "@vigil/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "./lifecycle-settings.ts";
import { migrateToLatest } from "./migrate.ts";
import { hasTimescale, openDatabase, type VigilDatabase } from "./open-database.ts";
import { type ReadingStatsFilter, type ReadingStatsRow, readingStats, type StatsSource } from "./reading-stats.ts";
import { refreshRollups } from "./rollup-refresh.ts";
import { nearestRank, SKETCH_RELATIVE_ACCURACY } from "./sketch.ts";
import { insertSynthetic, prng, type SyntheticReading } from "./testing/synthetic-readings.ts";
import { listPolicyJobs, runPolicyJob } from "./timescale-policies.ts";

const SENSORS = ["motor.temp_c", "arm.torque_nm"];

/** Two days of readings every 30 s from two devices and two sensors, some soft-deleted. */
function seed(baseMs: number): SyntheticReading[] {
  const random = prng(42);
  const out: SyntheticReading[] = [];
  for (let t = baseMs - 2 * DAY_MS; t < baseMs; t += 30_000) {
    for (const deviceNumber of [1, 2]) {
      for (const sensor of SENSORS) {
        const jitter = Math.floor(random() * 1000);
        const value =
          sensor === "motor.temp_c"
            ? 20 + 15 * random() ** 2
            : random() < 0.02
              ? 0 // exact zeros fall in the sketch's zero bin
              : -50 + 100 * random();
        out.push({ deviceCode: "OR", deviceNumber, sensor, timeMs: t + jitter, value, deleted: random() < 0.01 });
      }
    }
  }
  return out;
}

/** What readingStats must return, computed in JS from the rows a test holds. */
function expected(rows: SyntheticReading[], filter: ReadingStatsFilter, bucketMs: number) {
  const groups = new Map<string, { bucketStartMs: number; sensor: string; values: number[] }>();
  for (const r of rows) {
    if (r.deleted) continue;
    if (filter.deviceCode !== undefined && r.deviceCode !== filter.deviceCode) continue;
    if (filter.deviceNumber !== undefined && r.deviceNumber !== filter.deviceNumber) continue;
    if (filter.sensor !== undefined && r.sensor !== filter.sensor) continue;
    if (filter.startMs !== undefined && r.timeMs < filter.startMs) continue;
    if (filter.endMs !== undefined && r.timeMs >= filter.endMs) continue;
    const bucketStartMs = Math.floor(r.timeMs / bucketMs) * bucketMs;
    const key = `${bucketStartMs}/${r.sensor}`;
    const g = groups.get(key) ?? { bucketStartMs, sensor: r.sensor, values: [] };
    groups.set(key, g);
    g.values.push(r.value);
  }
  return [...groups.values()]
    .sort((a, b) => a.bucketStartMs - b.bucketStartMs || (a.sensor < b.sensor ? -1 : 1))
    .map((g) => {
      const v = g.values.sort((a, b) => a - b);
      const cont = (q: number) => {
        const h = q * (v.length - 1);
        const lo = Math.floor(h);
        return lo + 1 < v.length ? v[lo]! + (h - lo) * (v[lo + 1]! - v[lo]!) : v[lo]!;
      };
      const disc = (percent: number) => v[nearestRank(percent, v.length) - 1]!;
      return {
        bucketStartMs: g.bucketStartMs,
        sensor: g.sensor,
        count: v.length,
        min: v[0]!,
        max: v.at(-1)!,
        avg: v.reduce((s, x) => s + x, 0) / v.length,
        cont: [cont(0.5), cont(0.95), cont(0.99)],
        disc: [disc(50), disc(95), disc(99)],
      };
    });
}

function compare(actual: ReadingStatsRow[], want: ReturnType<typeof expected>, source: StatsSource) {
  expect(actual.map((r) => [r.bucketStartMs, r.sensor, r.count])).toEqual(
    want.map((r) => [r.bucketStartMs, r.sensor, r.count]),
  );
  actual.forEach((a, i) => {
    const w = want[i]!;
    expect([a.min, a.max]).toEqual([w.min, w.max]);
    expect(Math.abs(a.avg - w.avg)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w.avg)));
    const got = [a.p50, a.p95, a.p99];
    got.forEach((p, j) => {
      if (source === "raw") {
        expect(Math.abs(p - w.cont[j]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(w.cont[j]!)));
      } else {
        const exact = w.disc[j]!;
        expect(Math.abs(p - exact), `${a.bucketStartMs}/${a.sensor} p${j}`).toBeLessThanOrEqual(
          SKETCH_RELATIVE_ACCURACY * Math.abs(exact) + 1e-9,
        );
      }
    });
  });
}

const server = timescaleServer(inject("timescaleUrl"));
const engines = [
  { name: "embedded TimescaleDB", url: async () => "embedded:memory", skip: "" },
  { name: "TimescaleDB 2.23 server", url: () => server.createDatabase("stats"), skip: server.skipReason },
  {
    name: "PostgreSQL 15 without TimescaleDB",
    url: () => createTestDatabase(inject("postgresUrl"), "stats"),
    skip: "",
  },
];

for (const { name, url, skip } of engines)
  describe.skipIf(skip !== "")(`readingStats on ${name}${skip && ` (${skip})`}`, () => {
    let database: VigilDatabase;
    let timescale: boolean;
    const base = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
    const rows = seed(base);

    async function refresh() {
      if (timescale) {
        for (const job of await listPolicyJobs(database.db)) {
          if (job.kind === "refresh") await runPolicyJob(database.db, job);
        }
      } else {
        await refreshRollups(database.db, { nowMs: Date.now(), windowMs: 364 * DAY_MS });
      }
    }

    beforeAll(async () => {
      database = await openDatabase(await url());
      await migrateToLatest(database.db);
      timescale = await hasTimescale(database.db);
      await insertSynthetic(database.db, rows);
      await refresh();
    });
    afterAll(() => database?.close());

    const cases: Array<{ what: string; filter: ReadingStatsFilter; bucketMs: number; source: StatsSource }> = [
      {
        what: "a narrow range from raw rows, exactly",
        filter: { startMs: base - 3 * HOUR_MS + 17_000, endMs: base - HOUR_MS },
        bucketMs: 10 * MINUTE_MS,
        source: "raw",
      },
      {
        what: "two days from the 1-minute aggregates, with raw edges",
        filter: { startMs: base - 47 * HOUR_MS - 12_345, endMs: base - 61_000 },
        bucketMs: 15 * MINUTE_MS,
        source: "1m",
      },
      {
        what: "everything from the 1-hour aggregates",
        filter: {},
        bucketMs: 6 * HOUR_MS,
        source: "1h",
      },
      {
        what: "one device and sensor from the 1-hour aggregates",
        filter: { deviceCode: "OR", deviceNumber: 2, sensor: "arm.torque_nm", startMs: base - DAY_MS },
        bucketMs: HOUR_MS,
        source: "1h",
      },
    ];

    it.each(cases)("answers $what", async ({ filter, bucketMs, source }) => {
      compare(await readingStats(database.db, filter, bucketMs, { source }), expected(rows, filter, bucketMs), source);
    });

    it("materializes one fleet-wide row per sensor and hour, which wide stats without a device filter read", async () => {
      // Materialized, not computed at query time: the rollup table, or the continuous aggregate's hypertable.
      const { rows: target } = timescale
        ? await sql<{ name: string }>`
            SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) AS name
            FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_1h_fleet'`.execute(
            database.db,
          )
        : { rows: [{ name: "readings_1h_fleet_rollup" }] };
      const { rows } = await sql<{ n: number; pairs: number }>`
        SELECT count(*)::int AS n, count(DISTINCT (bucket, sensor_id))::int AS pairs
        FROM ${sql.raw(target[0]!.name)}`.execute(database.db);
      const hours = new Set(seed(base).map((r) => `${Math.floor(r.timeMs / HOUR_MS)}/${r.sensor}`));
      // One row each, and every complete hour materialized (the newest may still come from raw rows).
      expect(rows[0]!.n).toBe(rows[0]!.pairs);
      expect(rows[0]!.n).toBeGreaterThanOrEqual(hours.size - SENSORS.length);
    });

    it("picks raw rows for narrow ranges and aggregates for wide ones", async () => {
      const narrow = { startMs: base - HOUR_MS, endMs: base };
      compare(await readingStats(database.db, narrow, MINUTE_MS), expected(rows, narrow, MINUTE_MS), "raw");
    });

    it("reflects updates, soft deletes and late readings after a refresh, and new readings at once", async () => {
      const random = prng(7);
      // Old data changes: one device's hour of torque triples, another's hour of temperatures is deleted.
      await database.db
        .updateTable("readings")
        .set((eb) => ({ value: eb("value", "*", 3), updated_at: new Date() }))
        .where("device_id", "=", (eb) => eb.selectFrom("devices").select("id").where("number", "=", 2))
        .where("sensor_id", "=", (eb) => eb.selectFrom("sensors").select("id").where("name", "=", "arm.torque_nm"))
        .where("time", ">=", new Date(base - 40 * HOUR_MS))
        .where("time", "<", new Date(base - 39 * HOUR_MS))
        .execute();
      await database.db
        .updateTable("readings")
        .set({ deleted_at: new Date() })
        .where("device_id", "=", (eb) => eb.selectFrom("devices").select("id").where("number", "=", 1))
        .where("time", ">=", new Date(base - 30 * HOUR_MS))
        .where("time", "<", new Date(base - 29 * HOUR_MS))
        .execute();
      for (const r of rows) {
        if (r.timeMs >= base - 40 * HOUR_MS && r.timeMs < base - 39 * HOUR_MS) {
          if (r.deviceNumber === 2 && r.sensor === "arm.torque_nm") r.value *= 3;
        }
        if (r.deviceNumber === 1 && r.timeMs >= base - 30 * HOUR_MS && r.timeMs < base - 29 * HOUR_MS) r.deleted = true;
      }
      // A device that was offline sends readings from yesterday, and readings from now arrive.
      const late: SyntheticReading[] = [];
      for (let t = base - 20 * HOUR_MS + 7; t < base - 19 * HOUR_MS; t += 60_000) {
        late.push({
          deviceCode: "OR",
          deviceNumber: 3,
          sensor: "motor.temp_c",
          timeMs: t,
          value: 90 * random(),
          deleted: false,
        });
      }
      // Newer than any watermark (devices may be up to 5 minutes ahead of the server).
      for (let t = Date.now() - 30_000; t < Date.now() + 4 * MINUTE_MS; t += 5_000) {
        late.push({
          deviceCode: "OR",
          deviceNumber: 3,
          sensor: "motor.temp_c",
          timeMs: t,
          value: 5 * random(),
          deleted: false,
        });
      }
      await insertSynthetic(database.db, late);
      rows.push(...late);

      // New readings show at once through real-time aggregation.
      const recent = { startMs: base + HOUR_MS, sensor: "motor.temp_c", deviceNumber: 3 };
      compare(
        await readingStats(database.db, recent, HOUR_MS, { source: "1m" }),
        expected(rows, recent, HOUR_MS),
        "1m",
      );

      await refresh();
      for (const { filter, bucketMs, source } of cases) {
        compare(
          await readingStats(database.db, filter, bucketMs, { source }),
          expected(rows, filter, bucketMs),
          source,
        );
      }
    });
  });

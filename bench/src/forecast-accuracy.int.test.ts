import { migrateToLatest, openDatabase } from "@vigil/db";
import { DAY_MS } from "@vigil/maintenance";
import { createTestDatabase } from "@vigil/testkit";
import { describe, expect, inject, it } from "vitest";
import { measureForecastAccuracy } from "./forecast-accuracy.ts";

describe("maintenance forecasts against the simulator's ground truth", () => {
  it.each([1, 2])(
    "run %i: crossings of half-way parts within 15 % (median), at most 5 % of healthy parts flagged",
    async (run) => {
      const database = await openDatabase(await createTestDatabase(inject("postgresUrl")));
      try {
        await migrateToLatest(database.db);
        const result = await measureForecastAccuracy(database.db, {
          robots: 25,
          run,
          nowMs: Date.UTC(2026, 5, 1),
          settings: { horizonMs: 30 * DAY_MS, windowMs: 90 * DAY_MS },
        });
        console.log(`forecast accuracy, run ${run}: ${JSON.stringify(result)}`);
        expect(result.halfWay).toBeGreaterThan(50);
        expect(result.halfWayMedianAbsRelError).toBeLessThanOrEqual(0.15);
        expect(result.healthy).toBeGreaterThan(50);
        expect(result.healthyFlaggedShare).toBeLessThanOrEqual(0.05);
      } finally {
        await database.close();
      }
    },
  );
});

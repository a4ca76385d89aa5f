import { openAlertCounts } from "@vigil/alerts";
import { DAY_MS, migrateToLatest, openDatabase, sql } from "@vigil/db";
import { forecastSettings, recomputeForecasts, recordMaintenance } from "@vigil/maintenance";
import { createLogger } from "@vigil/runtime";
import { createTestDatabase } from "@vigil/testkit";
import { describe, expect, inject, it } from "vitest";
import { createLifecycleApp } from "./app.ts";
import { loadLifecycleConfig } from "./config.ts";

describe("the lifecycle service's forecast run", () => {
  it("recomputes and stores every robot's maintenance forecasts once per FORECAST_INTERVAL_MS, and raises and clears maintenance-due alerts", async () => {
    const url = await createTestDatabase(inject("postgresUrl"));
    const database = await openDatabase(url);
    await migrateToLatest(database.db);
    const db = database.db;
    const now = Date.now();
    await sql`INSERT INTO devices (code, number, kind) VALUES ('OR', 1, 'surgical_robot')`.execute(db);
    await sql`INSERT INTO sensors (name) VALUES ('battery.capacity_pct'), ('arm1.motor_temp_c')`.execute(db);
    // A battery losing 0.5 %/day to reach 80 % in 10 days; a steady motor.
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT t, CASE s.name WHEN 'battery.capacity_pct' THEN 85 + 0.5 * date_part('epoch', ${new Date(now)}::timestamptz - t) / 86400
                            ELSE 60 END, 0, t, d.id, s.id
      FROM generate_series(${new Date(now - 30 * DAY_MS)}::timestamptz, ${new Date(now - DAY_MS)}::timestamptz, interval '6 hours') AS t,
           devices d, sensors s`.execute(db);
    const app = createLifecycleApp(
      loadLifecycleConfig({ DATABASE_URL: url, FORECAST_INTERVAL_MS: "3600000", FORECAST_HORIZON_DAYS: "14" }),
      { logger: createLogger({ name: "test", level: "warn" }), database, opsServer: false, firstRunDelayMs: 3_600_000 },
    );
    await app.start();
    try {
      await app.runOnce();
      const { rows } = await sql<{ component: string; status: string; crossing_at: Date }>`
        SELECT component, status, crossing_at FROM maintenance_forecasts ORDER BY component`.execute(db);
      expect(rows.map((r) => [r.component, r.status])).toEqual([
        ["arm1.motor", "stable"],
        ["battery", "due"],
      ]);
      expect(Math.abs((rows[1]!.crossing_at.getTime() - now) / DAY_MS - 10)).toBeLessThan(0.5);
      expect(app.metrics).toMatchObject({ forecastsComputed: 2, forecastsDue: 1 });
      // Within the interval, the next run leaves them.
      await app.runOnce();
      expect(app.metrics.forecastsComputed).toBe(2);

      // The due battery raised one "maintenance due" alert, the forecast attached; the run after it none more.
      const alerts = async () =>
        (
          await sql<{ state: string; sensor: string; summary: string; details: { forecast?: { status: string } } }>`
          SELECT a.state, a.sensor, a.summary, a.details FROM alerts a JOIN alert_rules r ON r.id = a.rule_id
          WHERE r.kind = 'external' AND r.source = 'maintenance' ORDER BY a.id`.execute(db)
        ).rows;
      expect((await alerts()).map((a) => [a.state, a.sensor, a.details.forecast?.status])).toEqual([
        ["firing", "battery", "due"],
      ]);
      expect((await alerts())[0]!.summary).toMatch(/^battery of OR-1 will cross its threshold/);
      const [robot] = (await sql<{ id: number }>`SELECT id FROM devices WHERE code = 'OR'`.execute(db)).rows;
      expect(await openAlertCounts(db, [robot!.id])).toEqual(new Map([[robot!.id, 1]]));

      // A maintenance record replacing the battery resets it (the query service recomputes that
      // robot's forecasts at once); the next lifecycle run resolves the alert.
      await recordMaintenance(
        { db, actor: "user:tech" },
        {
          deviceCode: "OR",
          deviceNumber: 1,
          kind: "preventive",
          startMs: now - 3_600_000,
          downtimeMs: 1_800_000,
          components: ["battery"],
        },
      );
      await recomputeForecasts(db, forecastSettings({ FORECAST_HORIZON_DAYS: 14, FORECAST_WINDOW_DAYS: 90 }), {
        deviceIds: [robot!.id],
      });
      await app.runOnce();
      expect((await alerts()).map((a) => a.state)).toEqual(["resolved"]);
      expect(await openAlertCounts(db, [robot!.id])).toEqual(new Map());
    } finally {
      await app.stop();
      await database.close();
    }
  });
});

import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { migrateToLatest, openDatabase, sql } from "@vigil/db";
import { createTestDatabase, repoRoot } from "@vigil/testkit";
import { beforeAll, describe, expect, inject, it } from "vitest";

const run = promisify(execFile);

describe("vigil CLI: sites, devices, maintenance, procedures, the fleet summary", () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { ...process.env, DATABASE_URL: await createTestDatabase(inject("postgresUrl")) } as Record<string, string>;
    const database = await openDatabase(env.DATABASE_URL!);
    await migrateToLatest(database.db);
    await database.close();
  });

  async function vigil(...args: string[]) {
    try {
      const { stdout } = await run(process.execPath, [join(repoRoot, "packages/cli/src/main.ts"), ...args], { env });
      return { code: 0, out: JSON.parse(stdout), err: "" };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, out: undefined, err: err.stderr };
    }
  }

  it("manages a site and a robot's lifecycle, records maintenance that resets a forecast, and sums it up", async () => {
    expect((await vigil("sites", "create", "--name", "depot", "--hours-per-day", "12")).out).toMatchObject({
      name: "depot",
      availableHoursPerDay: 12,
    });
    expect((await vigil("sites", "create", "--name", "Bad Name")).code).toBe(1);
    expect((await vigil("devices", "create", "--code", "OR", "--number", "1", "--kind", "surgical_robot")).code).toBe(
      0,
    );
    const updated = await vigil(
      "devices",
      "update",
      "--code",
      "OR",
      "--number",
      "1",
      "--site",
      "depot",
      "--status",
      "in_maintenance",
      "--firmware",
      "4.2.1",
    );
    expect(updated.out).toMatchObject({
      site: "depot",
      status: "in_maintenance",
      firmware: "4.2.1",
      kind: "surgical_robot",
    });
    expect((await vigil("devices", "update", "--code", "OR", "--number", "1", "--status", "broken")).code).toBe(2);
    expect(
      (await vigil("sites", "list")).out.map((s: { name: string; deviceCount: number }) => [s.name, s.deviceCount]),
    ).toEqual([["depot", 1]]);

    // A battery 4 days from its threshold, then replaced.
    const database = await openDatabase(env.DATABASE_URL!);
    const now = Date.now();
    await sql`INSERT INTO sensors (name) VALUES ('battery.capacity_pct')`.execute(database.db);
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT t, 80 + 0.25 * (4 - date_part('epoch', ${new Date(now)}::timestamptz - t) / -86400), 0, t, d.id, s.id
      FROM generate_series(${new Date(now - 20 * 86_400_000)}::timestamptz, ${new Date(now - 3_600_000)}::timestamptz, interval '12 hours') t,
           devices d, sensors s`.execute(database.db);
    await database.close();
    const before = await vigil("maintenance", "forecast", "--code", "OR", "--number", "1");
    expect(before.out).toEqual([expect.objectContaining({ component: "battery", status: "due" })]);
    expect(Math.abs(before.out[0].daysToCrossing - 4)).toBeLessThan(0.5);
    const start = new Date(now - 2 * 3_600_000).toISOString();
    const recorded = await vigil(
      "maintenance",
      "record",
      "--code",
      "OR",
      "--number",
      "1",
      "--kind",
      "corrective",
      "--start",
      start,
      "--downtime",
      "1h",
      "--component",
      "battery",
      "--part",
      "BAT-LI-4800:1",
      "--cost",
      "1800.50",
      "--currency",
      "EUR",
    );
    expect(recorded.out).toMatchObject({
      kind: "corrective",
      components: ["battery"],
      costMinor: 180050,
      recordedBy: expect.stringMatching(/^cli:/),
    });
    expect((await vigil("maintenance", "forecasts")).out).toEqual([
      expect.objectContaining({ device: "OR-1", component: "battery", status: "insufficient_data" }),
    ]);
    expect((await vigil("maintenance", "list", "--component", "battery")).out).toHaveLength(1);
    const summary = await vigil(
      "fleet",
      "summary",
      "--from",
      new Date(now - 86_400_000).toISOString(),
      "--to",
      new Date(now).toISOString(),
    );
    expect(summary.out.fleet).toMatchObject({ robots: 1, failures: 1, downtimeHours: 1, mttrHours: 1 });
    expect(summary.out.sites.map((s: { site: string }) => s.site)).toEqual(["depot"]);
    expect((await vigil("procedures", "list")).out).toEqual([]);

    expect((await vigil("devices", "delete", "--code", "OR", "--number", "1")).out.deletedAt).toBeTruthy();
    expect((await vigil("devices", "enable", "--code", "OR", "--number", "1")).err).toMatch(/is deleted/);
  });
});

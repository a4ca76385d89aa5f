import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateToLatest, openDatabase, sql, type VigilDatabase } from "@vigil/db";
import { seedDemo } from "@vigil/demo";
import { createDevice } from "@vigil/devices";
import { fleetSummary } from "@vigil/fleet";
import { listForecasts } from "@vigil/maintenance";
import { createTestDatabase } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliMain, runOnTerminal } from "./run-cli.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 15, 12);

async function count(database: VigilDatabase, table: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::float8 AS n FROM ${sql.table(table)}`.execute(database.db);
  return Number(rows[0]!.n);
}

describe("vigil demo seed", () => {
  let url: string;
  let database: VigilDatabase;

  beforeAll(async () => {
    url = await createTestDatabase(inject("postgresUrl"));
    database = await openDatabase(url);
    await migrateToLatest(database.db);
  });
  afterAll(() => database?.close());

  it("writes a fleet's history from the command line, with a progress bar on stderr and a JSON summary", async () => {
    // On a terminal (stderr: the progress bar), with stdout to a file (JSON, as in a script).
    const dir = await mkdtemp(join(tmpdir(), "vigil-demo-seed-"));
    const command = [process.execPath, cliMain, "demo", "seed", "--robots", "3", "--sites", "2", "--days", "60"]
      .map((a) => `'${a}'`)
      .join(" ");
    const shell = await runOnTerminal(`${command} > '${join(dir, "out.json")}'`, { ...process.env, DATABASE_URL: url });
    const stdout = await readFile(join(dir, "out.json"), "utf8");
    await rm(dir, { recursive: true, force: true });
    expect(shell.code, shell.output).toBe(0);
    const stderr = shell.output;
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ sitesCreated: 2, robotsCreated: 3, robotsUpToDate: 0 });
    expect(out.procedures).toBeGreaterThan(60);
    expect(out.conditionReadings).toBeGreaterThan(3 * 60);
    expect(out.telemetryReadings).toBeGreaterThan(1000);
    expect(stderr).toMatch(/robots\s.*3\/3/);
    expect(stderr).toMatch(/forecasts/);
    expect(await count(database, "procedures")).toBe(out.procedures);
    const robots = await sql<{ code: string; kind: string; site: string; labels: unknown }>`
      SELECT code, kind, site, labels FROM devices ORDER BY number`.execute(database.db);
    expect(robots.rows.map((r) => r.site)).toEqual(["st-marys", "city-general", "st-marys"]);
    expect(robots.rows[0]).toMatchObject({ code: "ROB", kind: "surgical_robot", labels: { demo: "seed" } });
  });

  it("is idempotent: a rerun the same day writes nothing, a later one only the new days", async () => {
    const before = await count(database, "readings");
    const procedures = await count(database, "procedures");
    const again = await seedDemo(database.db, { robots: 3, sites: 2, days: 60, actor: "test" });
    expect(again).toMatchObject({ robotsCreated: 0, robotsUpToDate: 3, procedures: 0, conditionReadings: 0 });
    expect(await count(database, "readings")).toBe(before);
    const later = await seedDemo(database.db, {
      robots: 3,
      sites: 2,
      days: 60,
      actor: "test",
      nowMs: Date.now() + 3 * DAY,
      telemetryDays: 0,
    });
    expect(later.robotsUpToDate).toBe(0);
    expect(later.procedures).toBeGreaterThan(0);
    expect(later.procedures).toBeLessThan(40);
    expect(await count(database, "procedures")).toBe(procedures + later.procedures);
    // Procedures are the same day for day: ids are derived, none is duplicated.
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::float8 AS n FROM (SELECT device_id, started_at FROM procedures GROUP BY 1, 2 HAVING count(*) > 1) d`.execute(
      database.db,
    );
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it("gives summaries, aggregates and forecasts to read straight away", async () => {
    const summary = await fleetSummary(database.db, { startMs: Date.now() - 30 * DAY, endMs: Date.now() });
    expect(summary.robots).toHaveLength(3);
    expect(summary.fleet.procedures).toBeGreaterThan(30);
    expect(summary.fleet.utilisation).toBeGreaterThan(0.1);
    expect(summary.fleet.utilisation).toBeLessThan(1);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::float8 AS n FROM readings_1h_rollup`.execute(
      database.db,
    );
    expect(Number(rows[0]!.n)).toBeGreaterThan(100);
    const forecasts = await listForecasts(database.db, { limit: 100 });
    expect(forecasts.map((f) => f.component).sort()).toEqual(
      expect.arrayContaining(["arm1.joint", "arm1.motor", "battery"]),
    );
    expect(forecasts.length).toBe(21);
  });

  it("refuses to write into a device it did not make", async () => {
    await createDevice({ db: database.db, actor: "test" }, { code: "OR", number: 1 });
    await expect(seedDemo(database.db, { robots: 1, sites: 1, days: 5, code: "OR", actor: "test" })).rejects.toThrow(
      /not a demo robot/,
    );
  });

  it("seeds the embedded TimescaleDB too, through its continuous aggregates", async () => {
    const embedded = await openDatabase("embedded:memory");
    try {
      await migrateToLatest(embedded.db);
      const out = await seedDemo(embedded.db, {
        robots: 2,
        sites: 1,
        days: 20,
        actor: "test",
        nowMs: NOW,
        telemetryDays: 1,
      });
      expect(out.procedures).toBeGreaterThan(10);
      const { rows } = await sql<{ n: number }>`SELECT count(*)::float8 AS n FROM readings_1h`.execute(embedded.db);
      expect(Number(rows[0]!.n)).toBeGreaterThan(50);
      expect(out.forecasts).toBe(14);
    } finally {
      await embedded.close();
    }
  });
});

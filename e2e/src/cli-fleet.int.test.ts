import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createVigilClient } from "@vigil/client";
import { sql } from "@vigil/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { cliMain, runCli, runOnTerminal } from "./run-cli.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const DAY = 86_400_000;

describe("vigil CLI: sites, device lifecycle, procedures, maintenance and the fleet summary over the API", () => {
  let pipeline: Pipeline;
  let home: string;
  let env: Record<string, string | undefined>;
  let technician: Record<string, string | undefined>;
  const vigil = (...args: string[]) => runCli(args, env);
  const asTechnician = (...args: string[]) => runCli(args, technician);

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    home = await mkdtemp(join(tmpdir(), "vigil-cli-fleet-"));
    env = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CONFIG_HOME: join(home, "admin"),
      VIGIL_SERVER: pipeline.queryUrl,
      // Everything here goes through the API: the database is out of reach.
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    };
    technician = { ...env, XDG_CONFIG_HOME: join(home, "technician") };
    expect((await runCli(["login", "--username", "admin"], env, ADMIN_PASSWORD)).code).toBe(0);
    const created = await runCli(
      ["users", "create", "--username", "tech-17", "--role", "technician"],
      env,
      USER_PASSWORD,
    );
    expect(created.out).toMatchObject({ username: "tech-17", role: "ROLE_TECHNICIAN" });
    expect((await runCli(["login", "--username", "tech-17"], technician, USER_PASSWORD)).code).toBe(0);
  });
  afterAll(async () => {
    await pipeline?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("manages sites and a robot's lifecycle, as an admin only", async () => {
    const site = await vigil("sites", "create", "--name", "depot", "--hours-per-day", "12");
    expect(site.code, site.stderr).toBe(0);
    expect(site.out).toMatchObject({ name: "depot", availableHoursPerDay: 12, timeZone: "UTC" });
    const bad = await vigil("sites", "create", "--name", "Bad Name");
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/^vigil: \[invalid_argument\]/) });
    expect((await vigil("sites", "create", "--name", "x", "--hours-per-day", "25")).code).toBe(2);
    const refused = await asTechnician("sites", "create", "--name", "annex");
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining("[permission_denied]") });
    const renamed = await vigil("sites", "update", "--name", "depot", "--display-name", "Central depot");
    expect(renamed.out).toMatchObject({ name: "depot", displayName: "Central depot", availableHoursPerDay: 12 });
    expect((await vigil("sites", "update", "--name", "depot")).code).toBe(2);

    expect((await vigil("devices", "create", "--code", "OR", "--number", "1", "--kind", "surgical_robot")).code).toBe(
      0,
    );
    const updated = await vigil(
      ...["devices", "update", "--code", "OR", "--number", "1", "--site", "depot", "--firmware", "4.2.1"],
      ...["--manufacturer", "Acme Surgical", "--label", "room=3"],
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.out).toMatchObject({
      site: "depot",
      firmware: "4.2.1",
      manufacturer: "Acme Surgical",
      labels: { room: "3" },
      kind: "surgical_robot",
      status: "DEVICE_STATUS_ACTIVE",
    });
    // Only the fields given change.
    const inMaintenance = await vigil(
      "devices",
      "update",
      "--code",
      "OR",
      "--number",
      "1",
      "--status",
      "in_maintenance",
    );
    expect(inMaintenance.out).toMatchObject({
      status: "DEVICE_STATUS_IN_MAINTENANCE",
      firmware: "4.2.1",
      site: "depot",
    });
    await vigil("devices", "update", "--code", "OR", "--number", "1", "--status", "active");
    expect((await vigil("devices", "update", "--code", "OR", "--number", "1", "--status", "broken")).code).toBe(2);
    expect((await vigil("devices", "update", "--code", "OR", "--number", "1")).code).toBe(2);
    const listed = await vigil("sites", "list");
    expect((listed.out as Array<{ name: string; deviceCount: number }>).map((s) => [s.name, s.deviceCount])).toEqual([
      ["depot", 1],
    ]);
    const atDepot = await vigil("devices", "list", "--site", "depot", "--kind", "surgical_robot", "--label", "room=3");
    expect((atDepot.out as Array<{ number: number }>).map((d) => d.number)).toEqual([1]);
  });

  it("shows a procedure and how the robot behaved during it", async () => {
    const api = createVigilClient({ baseUrl: pipeline.queryUrl });
    await api.login("admin", ADMIN_PASSWORD);
    const now = Date.now();
    await sql`INSERT INTO sensors (name) VALUES ('arm1.force_n') ON CONFLICT DO NOTHING`.execute(pipeline.database.db);
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT t, 10 + extract(epoch from t)::bigint % 7, 0, t, d.id, s.id
      FROM generate_series(${new Date(now - 3 * 3_600_000)}::timestamptz, ${new Date(now - 2 * 3_600_000)}::timestamptz, interval '1 minute') t,
           devices d, sensors s
      WHERE d.code = 'OR' AND d.number = 1 AND s.name = 'arm1.force_n'`.execute(pipeline.database.db);
    const { procedure } = await api.procedures.startProcedure({
      deviceCode: "OR",
      deviceNumber: 1,
      type: "cholecystectomy",
      surgeonId: "SURG-0042",
      patientId: "PT-0001",
      startTime: timestampFromMs(now - 3 * 3_600_000),
    });
    await api.procedures.endProcedure({ id: procedure!.id, endTime: timestampFromMs(now - 2 * 3_600_000) });

    const list = await vigil("procedures", "list", "--code", "OR", "--number", "1", "--state", "completed");
    expect(list.code, list.stderr).toBe(0);
    expect(list.out).toEqual([
      expect.objectContaining({ id: procedure!.id, type: "cholecystectomy", state: "PROCEDURE_STATE_COMPLETED" }),
    ]);
    expect((await vigil("procedures", "list", "--surgeon", "SURG-9999")).out).toEqual([]);
    expect((await vigil("procedures", "list", "--number", "1")).code).toBe(2);
    expect((await vigil("procedures", "get", "--id", procedure!.id)).out).toMatchObject({ surgeonId: "SURG-0042" });

    const telemetry = await vigil("procedures", "telemetry", "--id", procedure!.id, "--readings", "5");
    expect(telemetry.code, telemetry.stderr).toBe(0);
    const t = telemetry.out as { sensors: Array<{ sensor: string; count: string }>; readings: unknown[] };
    expect(t.sensors.map((x) => x.sensor)).toEqual(["arm1.force_n"]);
    expect(Number(t.sensors[0]!.count)).toBeGreaterThanOrEqual(60);
    expect(t.readings).toHaveLength(5);
  });

  it("forecasts a wearing battery; a technician's maintenance record resets it; the summary counts it", async () => {
    // A battery 4 days from its threshold.
    const now = Date.now();
    await sql`INSERT INTO sensors (name) VALUES ('battery.capacity_pct') ON CONFLICT DO NOTHING`.execute(
      pipeline.database.db,
    );
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT t, 80 + 0.25 * (4 - date_part('epoch', ${new Date(now)}::timestamptz - t) / -86400), 0, t, d.id, s.id
      FROM generate_series(${new Date(now - 20 * DAY)}::timestamptz, ${new Date(now - 3_600_000)}::timestamptz, interval '12 hours') t,
           devices d, sensors s
      WHERE d.code = 'OR' AND d.number = 1 AND s.name = 'battery.capacity_pct'`.execute(pipeline.database.db);
    const before = await vigil("maintenance", "forecast", "--code", "OR", "--number", "1");
    expect(before.code, before.stderr).toBe(0);
    const forecasts = before.out as Array<{ component: string; status: string; daysToCrossing: number }>;
    expect(forecasts).toEqual([expect.objectContaining({ component: "battery", status: "FORECAST_STATUS_DUE" })]);
    expect(Math.abs(forecasts[0]!.daysToCrossing - 4)).toBeLessThan(0.5);

    const recorded = await asTechnician(
      ...["maintenance", "record", "--code", "OR", "--number", "1", "--kind", "corrective"],
      ...["--start", new Date(now - 2 * 3_600_000).toISOString(), "--downtime", "1h", "--component", "battery"],
      ...["--part", "BAT-LI-4800:2", "--cost", "1800.50", "--currency", "EUR", "--technician", "tech-17"],
    );
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(recorded.out).toMatchObject({
      kind: "MAINTENANCE_KIND_CORRECTIVE",
      components: ["battery"],
      parts: [{ partNumber: "BAT-LI-4800", quantity: 2 }],
      costMinor: "180050",
      downtime: "3600s",
      recordedBy: "user:tech-17",
    });
    expect(
      (
        await asTechnician(
          "maintenance",
          "record",
          "--code",
          "OR",
          "--number",
          "1",
          "--kind",
          "corrective",
          "--start",
          "2026-01-01",
          "--cost",
          "5",
        )
      ).code,
    ).toBe(2);
    expect((await vigil("maintenance", "forecasts")).out).toEqual([
      expect.objectContaining({
        deviceCode: "OR",
        deviceNumber: 1,
        component: "battery",
        status: "FORECAST_STATUS_INSUFFICIENT_DATA",
      }),
    ]);
    expect((await vigil("maintenance", "forecasts", "--status", "due", "overdue")).out).toEqual([]);
    const records = await vigil("maintenance", "list", "--component", "battery");
    expect(records.out).toHaveLength(1);
    const id = (records.out as Array<{ id: string }>)[0]!.id;
    expect((await vigil("maintenance", "get", "--id", id)).out).toMatchObject({ technician: "tech-17" });

    const summary = await vigil(
      ...["fleet", "summary", "--from", new Date(now - DAY).toISOString(), "--to", new Date(now).toISOString()],
    );
    expect(summary.code, summary.stderr).toBe(0);
    const s = summary.out as { fleet: Record<string, unknown>; sites: Array<{ site: string }>; robots: unknown[] };
    expect(s.fleet).toMatchObject({ robots: 1, procedures: 1, failures: 1, downtimeHours: 1, mttrHours: 1 });
    expect(s.sites.map((x) => x.site)).toEqual(["depot"]);
    expect(s.robots).toHaveLength(1);
    expect((await vigil("fleet", "summary", "--from", "2026-02-01", "--to", "2026-01-01")).code).toBe(2);

    // Every change above is audited under the user who made it.
    const { rows } = await sql<{ actor: string; action: string }>`
      SELECT DISTINCT actor, action FROM audit_log WHERE action IN ('site.create', 'device.update', 'maintenance.record')
      ORDER BY action`.execute(pipeline.database.db);
    expect(rows).toEqual([
      { actor: "user:admin", action: "device.update" },
      { actor: "user:tech-17", action: "maintenance.record" },
      { actor: "user:admin", action: "site.create" },
    ]);
  });

  it("deletes a robot softly; a deleted robot cannot be enabled", async () => {
    const deleted = await vigil("devices", "delete", "--code", "OR", "--number", "1");
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((deleted.out as { deleteTime?: string }).deleteTime).toBeTruthy();
    expect((await vigil("devices", "list")).out).toEqual([]);
    expect((await vigil("devices", "list", "--deleted")).out).toHaveLength(1);
    const enable = await vigil("devices", "enable", "--code", "OR", "--number", "1");
    expect(enable).toMatchObject({ code: 1, stderr: expect.stringMatching(/is deleted/) });
  });

  it("prints the fleet summary as a table on a terminal", async () => {
    const command = [process.execPath, cliMain, "fleet", "summary", "--from", "2020-01-01", "--to", "2030-01-01"]
      .map((a) => `'${a}'`)
      .join(" ");
    const shell = await runOnTerminal(command, env);
    expect(shell.code, shell.output).toBe(0);
    expect(shell.output).toMatch(/site\s*│\s*displayName\s*│\s*robots\s*│\s*procedures/);
    expect(shell.output).toMatch(/│ \(fleet\)/);
  });
});

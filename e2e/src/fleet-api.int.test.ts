import type { DescService } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { status as grpcStatus } from "@grpc/grpc-js";
import { sql } from "@vigil/db";
import {
  AuditService,
  DeviceService,
  DeviceStatus,
  FleetService,
  ForecastStatus,
  MaintenanceKind,
  MaintenanceService,
  OutcomeResult,
  ProcedureService,
  ProcedureState,
  ReadingService,
  TelemetrySource,
} from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The Connect error code of a failed call, or "ok". */
async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

/** Inserts readings as the writer would have stored them. */
async function insertReadings(
  pipeline: Pipeline,
  code: string,
  number: number,
  rows: Array<[sensor: string, timeMs: number, value: number]>,
): Promise<void> {
  const db = pipeline.database.db;
  const sensors = [...new Set(rows.map((r) => r[0]))];
  for (const s of sensors) await sql`INSERT INTO sensors (name) VALUES (${s}) ON CONFLICT DO NOTHING`.execute(db);
  await sql`
    INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
    SELECT to_timestamp(t / 1000.0), v, 1, now(), d.id, s.id
    FROM unnest(${rows.map((r) => r[1])}::float8[], ${rows.map((r) => r[2])}::float8[], ${rows.map((r) => r[0])}::text[])
      AS x(t, v, name)
    JOIN sensors s ON s.name = x.name JOIN devices d ON d.code = ${code} AND d.number = ${number}`.execute(db);
}

describe("the fleet: devices, sites, procedures, maintenance and forecasts", () => {
  let pipeline: Pipeline;
  const tokens: Record<string, string> = {};
  const client = <S extends DescService>(service: S, who: string): Client<S> =>
    createClient(
      service,
      createConnectTransport({
        baseUrl: pipeline.queryUrl,
        httpVersion: "1.1",
        interceptors: [
          (next) => async (req) => {
            if (tokens[who]) req.header.set("authorization", `Bearer ${tokens[who]}`);
            return next(req);
          },
        ],
      }),
    );
  const keys: Record<number, string> = {};

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    tokens.admin = await pipeline.adminToken();
    tokens.user = await pipeline.userToken("reader");
    tokens.clinician = await pipeline.userToken("surgeon-desk", "clinician");
    tokens.technician = await pipeline.userToken("biomed", "technician");
    const devices = client(DeviceService, "admin");
    for (const n of [1, 2, 3]) {
      const made = await devices.createDevice({
        code: "OR",
        number: n,
        kind: "surgical_robot",
        site: n < 3 ? "st-mary" : "city-general",
        model: "Da Vinci Xi",
        manufacturer: "Intuitive",
        labels: { theatre: `t${n}` },
      });
      keys[n] = made.apiKey;
    }
    await devices.createDevice({ code: "ENV", number: 1, kind: "environment", site: "st-mary" });
  });
  afterAll(() => pipeline?.stop());

  describe("devices", () => {
    it("updates only the fields in update_mask, refuses unknown paths and an empty mask", async () => {
      const devices = client(DeviceService, "admin");
      const { device } = await devices.updateDevice({
        device: { code: "OR", number: 1, serialNumber: "SN-123", firmware: "4.2.1", model: "ignored", site: "ignored" },
        updateMask: { paths: ["serial_number", "firmware"] },
      });
      expect(device).toMatchObject({
        serialNumber: "SN-123",
        firmware: "4.2.1",
        model: "Da Vinci Xi",
        site: "st-mary",
      });
      expect(device?.status).toBe(DeviceStatus.ACTIVE);
      expect(
        await codeOf(devices.updateDevice({ device: { code: "OR", number: 1 }, updateMask: { paths: ["code"] } })),
      ).toBe(Code.InvalidArgument);
      expect(await codeOf(devices.updateDevice({ device: { code: "OR", number: 1 }, updateMask: { paths: [] } }))).toBe(
        Code.InvalidArgument,
      );
      expect(
        await codeOf(devices.updateDevice({ device: { code: "OR", number: 9 }, updateMask: { paths: ["firmware"] } })),
      ).toBe(Code.NotFound);
      const status = await devices.updateDevice({
        device: { code: "OR", number: 2, status: DeviceStatus.IN_MAINTENANCE, labels: { theatre: "t2", wing: "east" } },
        updateMask: { paths: ["status", "labels"] },
      });
      expect(status.device?.status).toBe(DeviceStatus.IN_MAINTENANCE);
      expect(status.device?.labels).toEqual({ theatre: "t2", wing: "east" });
      const audit = await client(AuditService, "admin").listAuditLog({ action: "device.update" });
      expect(audit.entries.map((e) => e.target)).toEqual(["device:OR-2", "device:OR-1"]);
      // The user role reads the fleet, but devices stay with admins.
      expect(
        await codeOf(
          client(DeviceService, "user").updateDevice({
            device: { code: "OR", number: 1 },
            updateMask: { paths: ["firmware"] },
          }),
        ),
      ).toBe(Code.PermissionDenied);
    });

    it("filters devices by site, kind, labels and status", async () => {
      const devices = client(DeviceService, "admin");
      const names = async (req: Parameters<typeof devices.listDevices>[0]) =>
        (await devices.listDevices(req)).devices.map((d) => `${d.code}-${d.number}`);
      expect(await names({ site: "st-mary" })).toEqual(["ENV-1", "OR-1", "OR-2"]);
      expect(await names({ site: "st-mary", kind: "surgical_robot" })).toEqual(["OR-1", "OR-2"]);
      expect(await names({ labels: { wing: "east" } })).toEqual(["OR-2"]);
      expect(await names({ labels: { theatre: "t1" } })).toEqual(["OR-1"]);
      expect(await names({ status: DeviceStatus.IN_MAINTENANCE })).toEqual(["OR-2"]);
      const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"]));
      await expect(devices.listDevices({ labels: tooMany })).rejects.toMatchObject({ code: Code.InvalidArgument });
      await expect(devices.listDevices({ labels: { ["k".repeat(64)]: "v" } })).rejects.toMatchObject({
        code: Code.InvalidArgument,
      });
    });

    it("disables, enables and soft-deletes: the key follows, the device leaves listings, the record stays", async () => {
      const devices = client(DeviceService, "admin");
      const { device: extra } = await devices
        .createDevice({ code: "TMP", number: 1, kind: "surgical_robot" })
        .then(async (made) => {
          keys[100] = made.apiKey;
          return made;
        });
      expect(extra?.status).toBe(DeviceStatus.ACTIVE);
      const streamStatus = async () => {
        const s = openRawStream(pipeline.receiver.port, keys[100]);
        s.hello();
        const first = await s.next().catch(() => undefined);
        s.close();
        return first?.kind.case === "welcome" ? "welcome" : (await s.status).code;
      };
      // Receivers hear of the change over NATS, within a second.
      const becomes = async (want: "welcome" | number) => {
        const until = Date.now() + 5_000;
        let got = await streamStatus();
        while (got !== want && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 100));
          got = await streamStatus();
        }
        return got;
      };
      expect(await becomes("welcome")).toBe("welcome");
      await devices.disableDevice({ code: "TMP", number: 1 });
      expect(await becomes(grpcStatus.UNAUTHENTICATED)).toBe(grpcStatus.UNAUTHENTICATED);
      const enabled = await devices.enableDevice({ code: "TMP", number: 1 });
      expect(enabled.device?.disableTime).toBeUndefined();
      expect(await becomes("welcome")).toBe("welcome");
      const deleted = await devices.deleteDevice({ code: "TMP", number: 1 });
      expect(deleted.device?.deleteTime).toBeDefined();
      expect(await becomes(grpcStatus.UNAUTHENTICATED)).toBe(grpcStatus.UNAUTHENTICATED);
      expect((await devices.listDevices({ code: "TMP" })).devices).toEqual([]);
      expect((await devices.listDevices({ code: "TMP", showDeleted: true })).devices).toHaveLength(1);
      expect(await codeOf(devices.enableDevice({ code: "TMP", number: 1 }))).toBe(Code.FailedPrecondition);
      expect(await codeOf(devices.createDevice({ code: "TMP", number: 1 }))).toBe(Code.AlreadyExists);
      const audit = await client(AuditService, "admin").listAuditLog({ actor: "user:admin" });
      const actions = audit.entries.filter((e) => e.target === "device:TMP-1").map((e) => e.action);
      expect(actions).toEqual(["device.delete", "device.enable", "device.disable", "device.create"]);
    });
  });

  describe("readings by site, kind and labels", () => {
    beforeAll(async () => {
      const t = Date.UTC(2026, 0, 5, 10);
      await insertReadings(pipeline, "OR", 1, [["arm1.force_n", t, 10]]);
      await insertReadings(pipeline, "OR", 2, [["arm1.force_n", t, 20]]);
      await insertReadings(pipeline, "OR", 3, [["arm1.force_n", t, 30]]);
      await insertReadings(pipeline, "ENV", 1, [["room.temperature_c", t, 21]]);
    });

    it("lists, counts and aggregates only the readings of the selected devices", async () => {
      const readings = client(ReadingService, "user");
      const values = async (filter: object) =>
        (await readings.listReadings({ filter, pageSize: 100 })).readings.map(
          (r) => `${r.deviceCode}-${r.deviceNumber}`,
        );
      expect(await values({ site: "st-mary" })).toEqual(["OR-1", "OR-2", "ENV-1"]);
      expect(await values({ site: "st-mary", deviceKind: "surgical_robot" })).toEqual(["OR-1", "OR-2"]);
      expect(await values({ deviceLabels: { theatre: "t3" } })).toEqual(["OR-3"]);
      expect(await values({ site: "nowhere" })).toEqual([]);
      const stats = await readings.getStats({
        filter: {
          deviceKind: "surgical_robot",
          sensor: "arm1.force_n",
          startTime: timestampFromMs(Date.UTC(2026, 0, 5)),
          endTime: timestampFromMs(Date.UTC(2026, 0, 6)),
        },
        bucket: "1d",
      });
      expect(stats.buckets.map((b) => [b.count, b.avg])).toEqual([[3n, 20]]);
    });

    it("corrects one robot's readings (admins only); a site, kind or label in a correction's filter is refused", async () => {
      const window = {
        sensor: "arm1.force_n",
        startTime: timestampFromMs(Date.UTC(2026, 0, 5)),
        endTime: timestampFromMs(Date.UTC(2026, 0, 6)),
      };
      const asUser = client(ReadingService, "user");
      expect(
        await codeOf(
          asUser.updateReadings({ filter: { deviceCode: "OR", deviceNumber: 3, ...window }, changes: { value: 31 } }),
        ),
      ).toBe(Code.PermissionDenied);
      const readings = client(ReadingService, "admin");
      for (const extra of [
        { site: "city-general" },
        { deviceKind: "surgical_robot" },
        { deviceLabels: { theatre: "t3" } },
      ]) {
        expect(
          await codeOf(
            readings.updateReadings({
              filter: { deviceCode: "OR", deviceNumber: 3, ...window, ...extra },
              changes: { value: 31 },
            }),
          ),
        ).toBe(Code.InvalidArgument);
      }
      const updated = await readings.updateReadings({
        filter: { deviceCode: "OR", deviceNumber: 3, ...window },
        changes: { value: 31 },
      });
      expect(updated.updatedCount).toBe(1n);
      const all = await readings.listReadings({ filter: { sensor: "arm1.force_n" } });
      expect(all.readings.map((r) => r.value).sort()).toEqual([10, 20, 31]);
    });
  });

  describe("sites and the fleet summary", () => {
    it("creates, lists, gets and updates sites; only fleet admins change them", async () => {
      const fleet = client(FleetService, "admin");
      const made = await fleet.createSite({
        site: {
          name: "st-mary",
          displayName: "St Mary's theatres",
          timeZone: "Europe/London",
          availableHoursPerDay: 12,
        },
      });
      expect(made.site).toMatchObject({ name: "st-mary", availableHoursPerDay: 12, deviceCount: 3 });
      await fleet.createSite({ site: { name: "city-general", displayName: "City General" } });
      expect(await codeOf(fleet.createSite({ site: { name: "st-mary" } }))).toBe(Code.AlreadyExists);
      expect(await codeOf(fleet.createSite({ site: { name: "St Mary" } }))).toBe(Code.InvalidArgument);
      expect(await codeOf(fleet.createSite({ site: { name: "x", timeZone: "Mars/Olympus" } }))).toBe(
        Code.InvalidArgument,
      );
      const page1 = await fleet.listSites({ pageSize: 1 });
      const page2 = await fleet.listSites({ pageSize: 1, pageToken: page1.nextPageToken });
      expect([...page1.sites, ...page2.sites].map((s) => s.name)).toEqual(["city-general", "st-mary"]);
      expect(page2.nextPageToken).toBe("");
      const updated = await fleet.updateSite({
        site: { name: "city-general", availableHoursPerDay: 24, displayName: "not this" },
        updateMask: { paths: ["available_hours_per_day"] },
      });
      expect(updated.site).toMatchObject({ displayName: "City General", availableHoursPerDay: 24 });
      const asUser = client(FleetService, "user");
      expect((await asUser.getSite({ name: "st-mary" })).site?.timeZone).toBe("Europe/London");
      expect(await codeOf(asUser.createSite({ site: { name: "rogue" } }))).toBe(Code.PermissionDenied);
      expect(
        await codeOf(
          asUser.updateSite({ site: { name: "st-mary", displayName: "x" }, updateMask: { paths: ["display_name"] } }),
        ),
      ).toBe(Code.PermissionDenied);
    });
  });

  describe("procedures", () => {
    let id = "";
    const t0 = Date.now() - 3 * HOUR;

    it("starts a procedure with pseudonymous identifiers only, one at a time per robot", async () => {
      const procedures = client(ProcedureService, "clinician");
      const started = await procedures.startProcedure({
        deviceCode: "OR",
        deviceNumber: 1,
        type: "cholecystectomy",
        surgeonId: "SURG-0042",
        patientId: "3f2b8c1e-9d4a-4f6b-8e2d-7a1c5b9e0f43",
        startTime: timestampFromMs(t0),
      });
      id = started.procedure!.id;
      expect(started.procedure).toMatchObject({ state: ProcedureState.IN_PROGRESS, site: "st-mary" });
      const again = {
        deviceCode: "OR",
        deviceNumber: 1,
        type: "cholecystectomy",
        surgeonId: "SURG-0042",
        patientId: "PT-0001",
      };
      expect(await codeOf(procedures.startProcedure(again))).toBe(Code.FailedPrecondition);
      for (const patientId of ["Jane Doe", "jane.doe@example.org", "1980-04-12", "0123456789", "+44 20 7946 0958"]) {
        expect(await codeOf(procedures.startProcedure({ ...again, deviceNumber: 2, patientId })), patientId).toBe(
          Code.InvalidArgument,
        );
      }
      expect(await codeOf(procedures.startProcedure({ ...again, deviceNumber: 2, surgeonId: "Dr Smith" }))).toBe(
        Code.InvalidArgument,
      );
      expect(await codeOf(client(ProcedureService, "user").startProcedure({ ...again, deviceNumber: 2 }))).toBe(
        Code.PermissionDenied,
      );
      expect(await codeOf(client(ProcedureService, "technician").startProcedure({ ...again, deviceNumber: 2 }))).toBe(
        Code.PermissionDenied,
      );
      // The audit log names the procedure and the robot, never the patient.
      const audit = await client(AuditService, "admin").listAuditLog({ action: "procedure.start" });
      expect(JSON.stringify(audit.entries, (_k, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(
        "3f2b8c1e",
      );
      expect(audit.entries[0]).toMatchObject({ actor: "user:surgeon-desk", target: `procedure:${id}` });
    });

    it("answers how the robot behaved during the procedure: per-sensor figures and every reading, paged", async () => {
      const rows: Array<[string, number, number]> = [];
      const force: number[] = [];
      for (let i = 0; i < 150; i++) {
        const v = 5 + ((i * 37) % 100) / 10;
        force.push(v);
        rows.push(["arm1.force_n", t0 + i * 1000, v]);
        rows.push(["arm1.joint1_deg", t0 + i * 1000, i]);
      }
      // Before the procedure and by another robot: not part of it.
      rows.push(["arm1.force_n", t0 - 1000, 999]);
      await insertReadings(pipeline, "OR", 1, rows);
      await insertReadings(pipeline, "OR", 2, [["arm1.force_n", t0 + 5000, 999]]);
      const procedures = client(ProcedureService, "user");
      const first = await procedures.getProcedureTelemetry({ id, pageSize: 200 });
      expect(first.source).toBe(TelemetrySource.RAW);
      const f = first.sensors.find((s) => s.sensor === "arm1.force_n")!;
      const sorted = [...force].sort((a, b) => a - b);
      expect(f.count).toBe(150n);
      expect(f.min).toBe(sorted[0]);
      expect(f.max).toBe(sorted.at(-1));
      expect(f.avg).toBeCloseTo(force.reduce((a, b) => a + b) / force.length, 9);
      expect(f.p50).toBeCloseTo((sorted[74]! + sorted[75]!) / 2, 9);
      let readings = first.readings;
      let token = first.nextPageToken;
      while (token) {
        const next = await procedures.getProcedureTelemetry({ id, pageSize: 200, pageToken: token });
        expect(next.sensors).toEqual([]);
        readings = readings.concat(next.readings);
        token = next.nextPageToken;
      }
      expect(readings).toHaveLength(300);
      expect(readings.filter((r) => r.value === 999)).toEqual([]);
      const one = await procedures.getProcedureTelemetry({ id, sensor: "arm1.joint1_deg", pageSize: 10 });
      expect(one.sensors.map((s) => s.sensor)).toEqual(["arm1.joint1_deg"]);
      expect(one.readings.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it("ends the procedure, then records and corrects its outcome", async () => {
      const procedures = client(ProcedureService, "clinician");
      expect(
        await codeOf(procedures.recordOutcome({ id, outcome: { result: OutcomeResult.SUCCESS } })),
        "before the end",
      ).toBe(Code.FailedPrecondition);
      const ended = await procedures.endProcedure({ id, endTime: timestampFromMs(t0 + 2 * HOUR) });
      expect(ended.procedure).toMatchObject({ state: ProcedureState.COMPLETED });
      expect(Number(ended.procedure!.duration!.seconds)).toBe(7200);
      expect(await codeOf(procedures.endProcedure({ id }))).toBe(Code.FailedPrecondition);
      await procedures.recordOutcome({ id, outcome: { result: OutcomeResult.SUCCESS } });
      const corrected = await procedures.recordOutcome({
        id,
        outcome: { result: OutcomeResult.COMPLICATIONS, complicationGrade: 2, bloodLossMl: 150, codes: ["ssi"] },
      });
      expect(corrected.procedure?.outcome).toMatchObject({ result: OutcomeResult.COMPLICATIONS, complicationGrade: 2 });
      expect(
        await codeOf(
          procedures.recordOutcome({ id, outcome: { result: OutcomeResult.SUCCESS, codes: ["Free text!"] } }),
        ),
      ).toBe(Code.InvalidArgument);
      expect(await codeOf(procedures.getProcedure({ id: "not-a-uuid" }))).toBe(Code.NotFound);
    });

    it("lists procedures by robot, site, type, surgeon, state and time, newest first, paged", async () => {
      const procedures = client(ProcedureService, "clinician");
      const base = { type: "prostatectomy", surgeonId: "SURG-0007", patientId: "PT-0002" };
      for (const [n, h] of [
        [2, 30],
        [3, 20],
        [2, 10],
      ] as const) {
        const p = await procedures.startProcedure({
          ...base,
          deviceCode: "OR",
          deviceNumber: n,
          startTime: timestampFromMs(Date.now() - h * HOUR),
        });
        await procedures.endProcedure({ id: p.procedure!.id, endTime: timestampFromMs(Date.now() - (h - 1) * HOUR) });
      }
      const list = async (req: Parameters<typeof procedures.listProcedures>[0]) =>
        (await procedures.listProcedures(req)).procedures.map((p) => `${p.deviceCode}-${p.deviceNumber}/${p.type}`);
      expect(await list({ type: "prostatectomy" })).toEqual([
        "OR-2/prostatectomy",
        "OR-3/prostatectomy",
        "OR-2/prostatectomy",
      ]);
      expect(await list({ site: "city-general" })).toEqual(["OR-3/prostatectomy"]);
      expect(await list({ deviceCode: "OR", deviceNumber: 1 })).toEqual(["OR-1/cholecystectomy"]);
      expect(await list({ surgeonId: "SURG-0042" })).toEqual(["OR-1/cholecystectomy"]);
      expect(
        await list({ startTime: timestampFromMs(Date.now() - 25 * HOUR), endTime: timestampFromMs(Date.now()) }),
      ).toHaveLength(3);
      const page1 = await procedures.listProcedures({ pageSize: 2 });
      const page2 = await procedures.listProcedures({ pageSize: 2, pageToken: page1.nextPageToken });
      expect(page1.procedures.length + page2.procedures.length).toBe(4);
      expect(page2.nextPageToken).toBe("");
      expect(
        await codeOf(procedures.listProcedures({ pageSize: 2, pageToken: page1.nextPageToken, type: "x_y" })),
      ).toBe(Code.InvalidArgument);
    });
    it("sums up a procedure left open for days from the aggregates, not by sorting days of raw readings", async () => {
      const procedures = client(ProcedureService, "clinician");
      const from = Date.now() - 50 * HOUR;
      const started = await procedures.startProcedure({
        deviceCode: "OR",
        deviceNumber: 2,
        type: "hernia_repair",
        surgeonId: "SURG-0042",
        patientId: "PT-0003",
        startTime: timestampFromMs(from),
      });
      const id = started.procedure!.id;
      await insertReadings(
        pipeline,
        "OR",
        2,
        Array.from(
          { length: 100 },
          (_, i) => ["arm2.force_n", from + i * 20 * 60_000, 1 + (i % 10)] as [string, number, number],
        ),
      );
      const telemetry = await client(ProcedureService, "user").getProcedureTelemetry({ id, sensor: "arm2.force_n" });
      expect(telemetry.source).toBe(TelemetrySource.AGGREGATES);
      expect(telemetry.sensors).toHaveLength(1);
      expect(telemetry.sensors[0]).toMatchObject({ count: 100n, min: 1, max: 10, avg: 5.5 });
      expect(Math.abs(telemetry.sensors[0]!.p50 - 5)).toBeLessThanOrEqual(0.05);
      // The readings themselves are still there to page through.
      expect(telemetry.readings).toHaveLength(100);
      await procedures.endProcedure({ id, aborted: true });
    });
  });

  describe("maintenance and forecasts", () => {
    const now = Date.now();

    beforeAll(async () => {
      // OR-3's battery loses 0.1 %/day from 84.5 % 40 days ago: at 80.5 % now, 80 % in about 5 days.
      // Its arm1 motor is steady. Four readings a day, a glitch every 9th day.
      const rows: Array<[string, number, number]> = [];
      for (let d = 40; d >= 1; d--) {
        for (let q = 0; q < 4; q++) {
          const t = now - d * DAY + q * 6 * HOUR;
          const glitch = d % 9 === 0 && q === 0;
          rows.push(["battery.capacity_pct", t, glitch ? 5 : 80.5 + 0.1 * (d - (q * 6) / 24)]);
          rows.push(["arm1.motor_temp_c", t, 62 + Math.sin(d * 3 + q) * 0.5]);
        }
      }
      await insertReadings(pipeline, "OR", 3, rows);
    });

    it("forecasts each component of a robot from its aggregates", async () => {
      const maintenance = client(MaintenanceService, "user");
      const { forecasts } = await maintenance.getMaintenanceForecast({ deviceCode: "OR", deviceNumber: 3 });
      expect(forecasts.map((f) => [f.component, f.status])).toEqual([
        ["arm1.motor", ForecastStatus.STABLE],
        ["battery", ForecastStatus.DUE],
      ]);
      const battery = forecasts[1]!;
      const days = (Number(battery.crossingTime!.seconds) * 1000 - now) / DAY;
      expect(days).toBeGreaterThan(3.5);
      expect(days).toBeLessThan(6.5);
      expect(battery.slopePerDay).toBeCloseTo(-0.1, 2);
      expect(battery).toMatchObject({ sensor: "battery.capacity_pct", threshold: 80, failsAbove: false });
      expect(battery.points).toBeGreaterThanOrEqual(40);
      expect(battery.points).toBeLessThanOrEqual(41);
      expect(Number(battery.crossingTimeEarliest!.seconds)).toBeLessThanOrEqual(Number(battery.crossingTime!.seconds));
    });

    it("records maintenance (technicians and admins only), which resets the components it names", async () => {
      const record = {
        deviceCode: "OR",
        deviceNumber: 3,
        kind: MaintenanceKind.CORRECTIVE,
        startTime: timestampFromMs(now - 2 * HOUR),
        downtime: { seconds: 3600n, nanos: 0 },
        components: ["battery"],
        parts: [{ partNumber: "BAT-XI-200", quantity: 1 }],
        costMinor: 125_000n,
        currency: "EUR",
        technician: "tech-17",
      };
      expect(await codeOf(client(MaintenanceService, "clinician").recordMaintenance({ record }))).toBe(
        Code.PermissionDenied,
      );
      expect(
        await codeOf(
          client(MaintenanceService, "technician").recordMaintenance({
            record: { ...record, components: ["flux-capacitor"] },
          }),
        ),
      ).toBe(Code.InvalidArgument);
      expect(
        await codeOf(
          client(MaintenanceService, "technician").recordMaintenance({ record: { ...record, currency: "" } }),
        ),
      ).toBe(Code.InvalidArgument);
      const made = await client(MaintenanceService, "technician").recordMaintenance({ record });
      expect(made.record).toMatchObject({ site: "city-general", recordedBy: "user:biomed", costMinor: 125_000n });
      const { forecasts } = await client(MaintenanceService, "user").getMaintenanceForecast({
        deviceCode: "OR",
        deviceNumber: 3,
        component: "battery",
      });
      expect(forecasts).toHaveLength(1);
      expect(forecasts[0]).toMatchObject({ status: ForecastStatus.INSUFFICIENT_DATA, points: 0 });
      expect(Number(forecasts[0]!.lastResetTime!.seconds) * 1000).toBe(Math.floor((now - HOUR) / 1000) * 1000);
      const listed = await client(MaintenanceService, "user").listMaintenanceRecords({ component: "battery" });
      expect(listed.records.map((r) => r.id)).toEqual([made.record!.id]);
      expect((await client(MaintenanceService, "user").listMaintenanceRecords({ site: "st-mary" })).records).toEqual(
        [],
      );
      const audit = await client(AuditService, "admin").listAuditLog({ action: "maintenance.record" });
      expect(audit.entries).toHaveLength(1);
    });

    it("lists the fleet's stored forecasts soonest first, filtered by status and horizon", async () => {
      // Give OR-1 a motor heading for 85 °C in about 10 days.
      const rows: Array<[string, number, number]> = [];
      for (let d = 30; d >= 1; d--) rows.push(["arm2.motor_temp_c", now - d * DAY, 82.5 - 0.25 * d]);
      await insertReadings(pipeline, "OR", 1, rows);
      const { recomputeForecasts } = await import("@vigil/maintenance");
      const outcome = await recomputeForecasts(pipeline.database.db, { horizonMs: 30 * DAY, windowMs: 90 * DAY });
      expect(outcome.devices).toBe(4); // OR-1..3 and ENV-1; the deleted TMP-1 is left out
      const maintenance = client(MaintenanceService, "user");
      const all = await maintenance.listMaintenanceForecasts({});
      expect(all.forecasts.map((f) => `${f.deviceCode}-${f.deviceNumber}/${f.component}`)).toEqual([
        "OR-1/arm2.motor",
        "OR-3/arm1.motor",
        "OR-3/battery",
      ]);
      const due = await maintenance.listMaintenanceForecasts({ statuses: [ForecastStatus.DUE] });
      expect(due.forecasts.map((f) => f.component)).toEqual(["arm2.motor"]);
      const soon = await maintenance.listMaintenanceForecasts({ within: { seconds: BigInt(5 * 86400), nanos: 0 } });
      expect(soon.forecasts).toEqual([]);
      const page1 = await maintenance.listMaintenanceForecasts({ pageSize: 2 });
      const page2 = await maintenance.listMaintenanceForecasts({ pageSize: 2, pageToken: page1.nextPageToken });
      expect([...page1.forecasts, ...page2.forecasts].map((f) => f.component)).toEqual([
        "arm2.motor",
        "arm1.motor",
        "battery",
      ]);
    });
  });

  describe("the fleet summary", () => {
    it("sums procedures, utilisation, downtime, MTBF and MTTR per robot, per site and for the fleet", async () => {
      const db = pipeline.database.db;
      // A clean slate for exact figures: a new robot at a new site, created 10 days before the range ends.
      const end = Date.UTC(2026, 2, 1);
      const start = end - 10 * DAY;
      await client(FleetService, "admin").createSite({ site: { name: "depot", availableHoursPerDay: 12 } });
      await client(DeviceService, "admin").createDevice({
        code: "SUM",
        number: 1,
        kind: "surgical_robot",
        site: "depot",
      });
      await sql`UPDATE devices SET created_at = ${new Date(start - DAY)} WHERE code = 'SUM'`.execute(db);
      const procedures = client(ProcedureService, "clinician");
      // Three procedures of 2 h inside the range, one straddling its start (1 h inside).
      for (const [from, hours] of [
        [start + DAY, 2],
        [start + 2 * DAY, 2],
        [start + 3 * DAY, 2],
        [start - HOUR, 2],
      ] as const) {
        const p = await procedures.startProcedure({
          deviceCode: "SUM",
          deviceNumber: 1,
          type: "hernia_repair",
          surgeonId: "SURG-0001",
          patientId: "PT-0100",
          startTime: timestampFromMs(from),
        });
        await procedures.endProcedure({ id: p.procedure!.id, endTime: timestampFromMs(from + hours * HOUR) });
      }
      const maintenance = client(MaintenanceService, "technician");
      // Two failures (corrective, 12 h and 4 h down) and a preventive service (8 h).
      for (const [at, kind, hours, cost] of [
        [start + 4 * DAY, MaintenanceKind.CORRECTIVE, 12, 1000n],
        [start + 6 * DAY, MaintenanceKind.CORRECTIVE, 4, 2000n],
        [start + 8 * DAY, MaintenanceKind.PREVENTIVE, 8, 500n],
      ] as const) {
        await maintenance.recordMaintenance({
          record: {
            deviceCode: "SUM",
            deviceNumber: 1,
            kind,
            startTime: timestampFromMs(at),
            downtime: { seconds: BigInt(hours * 3600), nanos: 0 },
            costMinor: cost,
            currency: "EUR",
          },
        });
      }
      const summary = await client(FleetService, "user").getFleetSummary({
        startTime: timestampFromMs(start),
        endTime: timestampFromMs(end),
        site: "depot",
      });
      const available = (240 - 24) * 0.5; // 10 days less 24 h of downtime, 12 of every 24 hours
      expect(summary.robots).toHaveLength(1);
      expect(summary.robots[0]!.usage).toMatchObject({
        robots: 1,
        procedures: 3,
        procedureHours: 7,
        downtimeHours: 24,
        availableHours: available,
        maintenanceRecords: 3,
        failures: 2,
        mtbfHours: available / 2,
        mttrHours: 8,
        maintenanceCostMinor: 3500n,
        costCurrency: "EUR",
      });
      expect(summary.robots[0]!.usage!.utilisation).toBeCloseTo(7 / available, 12);
      expect(summary.sites.map((s) => [s.site, s.usage?.procedures])).toEqual([["depot", 3]]);
      expect(summary.fleet?.procedureHours).toBe(7);
      expect(
        await codeOf(
          client(FleetService, "user").getFleetSummary({
            startTime: timestampFromMs(end),
            endTime: timestampFromMs(start),
          }),
        ),
      ).toBe(Code.InvalidArgument);
      expect(await codeOf(client(FleetService, "user").getFleetSummary({}))).toBe(Code.InvalidArgument);
      expect(
        await codeOf(
          client(FleetService, "user").getFleetSummary({
            startTime: timestampFromMs(start - 4000 * DAY),
            endTime: timestampFromMs(end),
          }),
        ),
      ).toBe(Code.InvalidArgument);
    });
  });
});

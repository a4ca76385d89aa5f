import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "@vigil/db";
import { demoRobotParts } from "@vigil/demo";
import { createDevice } from "@vigil/devices";
import { ProcedureService, ProcedureState, TelemetrySource } from "@vigil/proto";
import { wearFraction } from "@vigil/robot-sim";
import { createLogger } from "@vigil/runtime";
import { createSimulatorApp, loadSimulatorConfig, type SimulatorApp } from "@vigil/simulator";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("simulated surgical robots: procedures through the API, telemetry and wear through the stream", () => {
  let pipeline: Pipeline;
  let simulator: SimulatorApp | undefined;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(async () => {
    await simulator?.stop();
    await pipeline?.stop();
  });

  it("records each procedure and its outcome, streams the arms during it, and closes what is open on stop", async () => {
    // The hospital system's account: a clinician records procedures (maintenance needs a technician).
    await pipeline.userToken("or-scheduler", "clinician");
    // Two robots none of whose parts is due for replacement (which would stop them for hours).
    const numbers = Array.from({ length: 40 }, (_, i) => i + 1)
      .filter((n) => demoRobotParts("ROB", n, Date.now()).every((p) => wearFraction(p, Date.now() + 3_600_000) < 0.85))
      .slice(0, 2);
    const devices = [];
    for (const number of numbers) {
      const { apiKey } = await createDevice({ db: pipeline.database.db, actor: "system:e2e" }, { code: "ROB", number });
      devices.push({ code: "ROB", number, apiKey });
    }
    simulator = createSimulatorApp(
      loadSimulatorConfig(
        {
          SIMULATOR_TARGET: `127.0.0.1:${pipeline.receiver.port}`,
          SIMULATOR_PROCEDURES: "true",
          SIMULATOR_PROCEDURE_S: "2",
          SIMULATOR_PROCEDURE_GAP_S: "1",
          SIMULATOR_QUERY_URL: pipeline.queryUrl,
          SIMULATOR_QUERY_USERNAME: "or-scheduler",
          SIMULATOR_QUERY_PASSWORD: USER_PASSWORD,
          SIMULATOR_INTERVAL_MS: "200",
          SIMULATOR_BATCH_SIZE: "4",
          LOG_LEVEL: "warn",
        },
        [],
      ),
      { logger: createLogger({ name: "sim", level: "warn" }), devices, control: false },
    );
    await simulator.start();
    const db = pipeline.database.db;
    const completed = async () => {
      const { rows } = await sql<{ n: number }>`
        SELECT count(*)::float8 AS n FROM procedures WHERE state <> 'in_progress' AND outcome_result IS NOT NULL`.execute(
        db,
      );
      return Number(rows[0]!.n);
    };
    await waitFor("four procedures with outcomes", async () => (await completed()) >= 4, 30_000);
    await simulator.stop();
    simulator = undefined;
    // Stopping ended the procedures in progress: nothing stays open.
    const open = await sql<{ n: number }>`SELECT count(*)::float8 AS n FROM procedures WHERE ended_at IS NULL`.execute(
      db,
    );
    expect(Number(open.rows[0]!.n)).toBe(0);

    const token = await pipeline.userToken("reviewer");
    const procedures = createClient(
      ProcedureService,
      createConnectTransport({
        baseUrl: pipeline.queryUrl,
        httpVersion: "1.1",
        interceptors: [
          (next) => async (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
    const listed = await procedures.listProcedures({ deviceCode: "ROB", state: ProcedureState.COMPLETED });
    expect(listed.procedures.length).toBeGreaterThanOrEqual(2);
    const p = listed.procedures.at(-1)!;
    expect(p.surgeonId).toMatch(/^SURG-\d{4}$/);
    expect(p.patientId).toMatch(/^PT-[0-9A-F]{8}$/);
    expect(p.outcome?.result).toBeGreaterThan(0);
    // The writer may lag the API by a batch: wait for the procedure's readings.
    await waitFor(
      "the procedure's telemetry",
      async () => {
        const t = await procedures.getProcedureTelemetry({ id: p.id });
        return t.sensors.some((s) => s.sensor === "camera.recording");
      },
      10_000,
    );
    const telemetry = await procedures.getProcedureTelemetry({ id: p.id });
    expect(telemetry.source).toBe(TelemetrySource.RAW);
    const names = telemetry.sensors.map((s) => s.sensor);
    expect(names).toEqual(expect.arrayContaining(["arm1.joint1_deg", "arm3.force_n", "camera.zoom_x"]));
    // Condition readings for the forecasts: motor under load and torque drift per procedure, battery daily.
    const condition = await sql<{ name: string }>`
      SELECT DISTINCT s.name FROM readings r JOIN sensors s ON s.id = r.sensor_id
      WHERE s.name IN ('battery.capacity_pct', 'arm1.motor_temp_c', 'arm1.torque_drift_pct') ORDER BY 1`.execute(db);
    expect(condition.rows.map((r) => r.name)).toEqual([
      "arm1.motor_temp_c",
      "arm1.torque_drift_pct",
      "battery.capacity_pct",
    ]);
    // No batch was refused along the way.
    const dead = await sql<{ n: number }>`SELECT count(*)::float8 AS n FROM dead_letters`.execute(db);
    expect(Number(dead.rows[0]!.n)).toBe(0);
  });
});

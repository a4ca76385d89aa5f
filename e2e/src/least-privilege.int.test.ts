import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { verifyAuditChain } from "@vigil/db";
import { AuditService, DeviceService, ReadingService } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFleetToCompletion } from "./fleet-run.ts";
import type { Pipeline } from "./pipeline.ts";
import { ackedBatches, storedBatches } from "./stored-batches.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const DEVICES = 4;
const BATCHES = 10;

/**
 * The pipeline with every service signed in to PostgreSQL as its own role
 * (vigil_receiver, vigil_writer, vigil_query), as the chart deploys it: the
 * grants in COMPONENT_GRANTS are enough for everything users do, while
 * trust.int.test.ts shows what they deny.
 */
describe("pipeline on per-component database roles", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ componentRoles: true });
  });
  afterAll(() => pipeline?.stop());

  it("ingests, stores, lists, corrects, deletes and audits with least privilege", async () => {
    const token = await pipeline.adminToken();
    const transport = createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    const devices = createClient(DeviceService, transport);
    const identities = [];
    for (let n = 1; n <= DEVICES; n++) {
      const created = await devices.createDevice({ code: "LP", number: n, kind: "patient_monitor" });
      identities.push({ code: "LP", number: n, apiKey: created.apiKey });
    }
    const fleet = await runFleetToCompletion(identities, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      maxBatches: BATCHES,
    });
    expect(fleet.summary()).toMatchObject({ acked: DEVICES * BATCHES, rejected: 0, unacked: 0 });
    const acked = ackedBatches(fleet.devices);
    await expect.poll(() => storedBatches(pipeline.database.db), { timeout: 30_000 }).toEqual(acked);

    const readings = createClient(ReadingService, transport);
    const page = await readings.listReadings({ filter: { deviceCode: "LP", deviceNumber: 1 }, pageSize: 10 });
    expect(page.readings).toHaveLength(10);
    const first = page.readings[0]!;
    const end = timestampFromMs(timestampMs(first.time!) + 1);
    const updated = await readings.updateReadings({
      filter: { deviceCode: "LP", deviceNumber: 1, sensor: first.sensor, startTime: first.time, endTime: end },
      changes: { value: 42 },
      reason: "least-privilege test",
    });
    expect(updated.updatedCount).toBeGreaterThan(0n);
    // A correction that moves a reading in time: deleted and inserted again, its prior values kept.
    await readings.updateReadings({
      filter: { deviceCode: "LP", deviceNumber: 1, sensor: first.sensor, startTime: first.time, endTime: end },
      changes: { time: timestampFromMs(timestampMs(first.time!) - 3_600_000) },
      reason: "clock was an hour fast",
    });
    const deleted = await readings.deleteReadings({
      filter: {
        deviceCode: "LP",
        deviceNumber: 2,
        startTime: timestampFromMs(Date.now() - 86_400_000),
        endTime: timestampFromMs(Date.now() + 60_000),
      },
      reason: "least-privilege test",
    });
    expect(deleted).toBeTruthy();
    // Hourly: from the rollups (vigil_query reads them; the writer's inserts fed them through triggers).
    const stats = await readings.getStats({ filter: { deviceCode: "LP", deviceNumber: 1 }, bucket: "1h" });
    expect(stats.buckets.length).toBeGreaterThan(0);

    await devices.revokeDeviceKey({ code: "LP", number: 3, prefix: identities[2]!.apiKey.split("_")[1]! });
    const audit = await createClient(AuditService, transport).listAuditLog({ pageSize: 100 });
    expect(audit.entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(["device.create", "device_key.revoke", "readings.update", "readings.delete"]),
    );
    expect(await verifyAuditChain(pipeline.database.db)).toMatchObject({ ok: true });
  });
});

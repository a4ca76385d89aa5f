import { listPolicyJobs, runPolicyJob, sql } from "@vigil/db";
import { timescaleServer } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runFleetToCompletion } from "./fleet-run.ts";
import type { Pipeline } from "./pipeline.ts";
import { ackedBatches, storedBatches } from "./stored-batches.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const DEVICES = 20;
const BATCHES = 20;
const SAMPLES = 25;
const READINGS = DEVICES * BATCHES * SAMPLES * 5; // 50,000 from five-sensor robots

const server = timescaleServer(inject("timescaleUrl"));
const engines = [
  { name: "the embedded TimescaleDB", url: async () => "embedded:memory", skip: "" },
  { name: "a TimescaleDB 2.23 server", url: () => server.createDatabase("pipeline"), skip: server.skipReason },
];

for (const { name, url, skip } of engines)
  describe.skipIf(skip !== "")(`pipeline on ${name}${skip && ` (${skip})`}`, () => {
    let pipeline: Pipeline;

    beforeAll(async () => {
      pipeline = await startTestPipeline({ databaseUrl: await url() });
    });
    afterAll(() => pipeline?.stop());

    it("makes readings a hypertable", async () => {
      const { rows } = await sql<{ hypertable_name: string; column_name: string }>`
      SELECT h.hypertable_name, d.column_name
      FROM timescaledb_information.hypertables h
      JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name)`.execute(
        pipeline.database.db,
      );
      expect(rows).toEqual([{ hypertable_name: "readings", column_name: "time" }]);
    });

    it(`stores every acked reading exactly once in chunks (${READINGS} readings)`, async () => {
      const identities = await pipeline.provision("OR", DEVICES);
      const fleet = await runFleetToCompletion(identities, {
        target: `127.0.0.1:${pipeline.receiver.port}`,
        maxBatches: BATCHES,
        samplesPerBatch: SAMPLES,
      });
      expect(fleet.summary()).toMatchObject({ acked: DEVICES * BATCHES, rejected: 0, readingsAcked: READINGS });
      const deadline = Date.now() + 60_000;
      while (pipeline.writer.stats.readings < READINGS && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(await storedBatches(pipeline.database.db)).toEqual(ackedBatches(fleet.devices));
      const { rows } = await sql<{
        chunks: number;
      }>`SELECT count(*)::int AS chunks FROM show_chunks('readings')`.execute(pipeline.database.db);
      expect(rows[0]!.chunks).toBeGreaterThanOrEqual(1);
    });

    it("serves the readings through ListReadings with the same filters", async () => {
      const url = `http://127.0.0.1:${pipeline.query.port}/vigil.readings.v1.ReadingService/ListReadings`;
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await pipeline.adminToken()}` },
        body: JSON.stringify({
          filter: { deviceCode: "OR", deviceNumber: 3, sensor: "motor.voltage_v" },
          pageSize: 10,
        }),
      });
      const page = (await res.json()) as {
        readings: Array<{ deviceNumber: number; sensor: string }>;
        totalSize: string;
      };
      expect(page.totalSize).toBe(String(BATCHES * SAMPLES));
      expect(page.readings).toHaveLength(10);
      expect(new Set(page.readings.map((r) => `${r.deviceNumber}/${r.sensor}`))).toEqual(
        new Set(["3/motor.voltage_v"]),
      );
    });

    it("answers GetStats over 30 days, hourly, for the whole fleet through the 1-hour continuous aggregate", async () => {
      // The refresh policies' work, as the lifecycle service does it (TimescaleDB's scheduler does not run
      // them); these readings are in the newest hour, which the aggregate adds from raw rows.
      for (const job of await listPolicyJobs(pipeline.database.db)) {
        if (job.kind === "refresh") await runPolicyJob(pipeline.database.db, job);
      }
      const now = Date.now();
      const res = await fetch(`http://127.0.0.1:${pipeline.query.port}/vigil.readings.v1.ReadingService/GetStats`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await pipeline.adminToken()}` },
        body: JSON.stringify({
          filter: {
            startTime: new Date(now - 30 * 86_400_000).toISOString(),
            endTime: new Date(now + 300_000).toISOString(),
          },
          bucket: "1h",
        }),
      });
      expect(res.status).toBe(200);
      const { buckets } = (await res.json()) as { buckets: Array<{ sensor: string; count: string }> };
      const perSensor = new Map<string, number>();
      for (const b of buckets) perSensor.set(b.sensor, (perSensor.get(b.sensor) ?? 0) + Number(b.count));
      expect(perSensor.size).toBe(5);
      expect([...perSensor.values()]).toEqual(Array(5).fill(DEVICES * BATCHES * SAMPLES));
    });
  });

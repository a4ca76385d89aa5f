import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFleetToCompletion } from "./fleet-run.ts";
import type { Pipeline } from "./pipeline.ts";
import { ackedBatches, storedBatches } from "./stored-batches.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const DEVICES = 20;
const BATCHES = 20;
const SAMPLES = 25;
const ROBOT_SENSORS = 5;
const READINGS = DEVICES * BATCHES * SAMPLES * ROBOT_SENSORS; // 50,000

describe("pipeline on PostgreSQL and JetStream", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(() => pipeline?.stop());

  it(`stores every acked reading exactly once (${READINGS} readings from ${DEVICES} devices)`, async () => {
    const identities = await pipeline.provision("OR", DEVICES);
    const fleet = await runFleetToCompletion(identities, {
      target: `127.0.0.1:${pipeline.receiver.port}`,
      maxBatches: BATCHES,
      samplesPerBatch: SAMPLES,
    });
    const summary = fleet.summary();
    expect(summary).toMatchObject({ acked: DEVICES * BATCHES, rejected: 0, readingsAcked: READINGS, unacked: 0 });

    const acked = ackedBatches(fleet.devices);
    await waitForStored(pipeline, READINGS);
    const stored = await storedBatches(pipeline.database.db);
    expect(stored).toEqual(acked);
  });

  it("pages through every reading over Connect-JSON with plain fetch", async () => {
    const url = `${pipeline.queryUrl}/vigil.readings.v1.ReadingService/ListReadings`;
    const token = await pipeline.adminToken();
    const seen = new Set<string>();
    let pageToken = "";
    let pages = 0;
    let total: string | undefined;
    do {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ pageSize: 1000, pageToken }),
      });
      expect(res.status).toBe(200);
      const page = (await res.json()) as {
        readings: Array<{ deviceCode: string; deviceNumber: number; sensor: string; time: string }>;
        nextPageToken?: string;
        totalSize: string;
      };
      // More readings than are counted exactly: an estimate (docs/api.md), repeated on every page.
      total ??= page.totalSize;
      expect(Number(page.totalSize)).toBeGreaterThan(1000);
      expect(page.totalSize).toBe(total);
      for (const r of page.readings) seen.add(`${r.deviceCode}-${r.deviceNumber}/${r.sensor}@${r.time}`);
      pageToken = page.nextPageToken ?? "";
      pages++;
    } while (pageToken);
    expect(seen.size).toBe(READINGS);
    expect(pages).toBe(Math.ceil(READINGS / 1000));
  });
});

async function waitForStored(pipeline: Pipeline, readings: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (pipeline.writer.stats.readings < readings && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
}

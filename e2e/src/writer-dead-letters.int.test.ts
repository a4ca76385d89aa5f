import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { sql } from "@vigil/db";
import { encodeReadingBatch } from "@vigil/proto";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/**
 * Messages the writer cannot store (undecodable, or refused by the database
 * on their own) are set aside in dead_letters; the batches around them are
 * stored and the consumer keeps moving.
 */
describe("writer dead letters", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(() => pipeline?.stop());

  it("isolates a poison message in a group and stores the rest", async () => {
    await pipeline.provision("ENV", 1);
    const { rows } = await sql<{ id: number }>`SELECT id FROM devices WHERE code = 'ENV'`.execute(pipeline.database.db);
    const nc = await connect({ servers: inject("natsUrl") });
    const js = jetstream(nc);
    const publish = async (seq: number, payload: Uint8Array) => {
      const h = headers();
      h.set("Vigil-Device-Id", String(rows[0]!.id));
      h.set("Vigil-Seq", String(seq));
      await js.publish("vigil.readings.ENV.1", payload, { headers: h, msgID: `ENV-1:${seq}` });
    };
    const now = Date.now();
    const good = (seq: number, sensor = "room.humidity_pct") =>
      encodeReadingBatch({
        seq,
        series: [{ sensor, times: Float64Array.of(now - seq), values: Float64Array.of(seq) }],
      });
    // Bypassing the receiver: garbage, and a sensor name the database's check refuses.
    await publish(1, good(1));
    await publish(2, new Uint8Array([0x12, 0xff, 0xff]));
    await publish(3, good(3, "Not A Sensor"));
    await publish(4, good(4));
    await nc.close();

    await waitFor("batches handled", () => pipeline.writer.stats.batches >= 4, 20_000);
    const stored = await sql<{ seq: number }>`SELECT seq FROM readings ORDER BY seq`.execute(pipeline.database.db);
    expect(stored.rows.map((r) => Number(r.seq))).toEqual([1, 4]);
    const letters = await sql<{ seq: number; source: string; reason: string }>`
      SELECT seq, source, reason FROM dead_letters ORDER BY seq`.execute(pipeline.database.db);
    expect(letters.rows.map((r) => [Number(r.seq), r.source])).toEqual([
      [2, "writer"],
      [3, "writer"],
    ]);
    expect(letters.rows[0]!.reason).toMatch(/undecodable batch/);
    expect(letters.rows[1]!.reason).toMatch(/database refused the batch/);
  });
});

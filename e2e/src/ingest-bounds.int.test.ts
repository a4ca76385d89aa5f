import { connect as http2Connect } from "node:http2";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { status } from "@grpc/grpc-js";
import { sql } from "@vigil/db";
import { createDevice } from "@vigil/devices";
import { replayDeadLetter } from "@vigil/ingest";
import { encodeReadingBatch, RejectCode, type StreamResponse, sampleBatchBytes } from "@vigil/proto";
import { createLogger } from "@vigil/runtime";
import { waitFor } from "@vigil/testkit";
import { createWriterApp, loadWriterConfig } from "@vigil/writer";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream, type RawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/**
 * Issue 12, items 2, 3, 5 and 6 against the real receiver, JetStream,
 * writer and PostgreSQL: what one bad device can do to the ingest path.
 */
const ENV = {
  // Room for a batch big enough to have stalled the old decoder for minutes.
  RECEIVER_MAX_BATCH_READINGS: "200000",
  RECEIVER_MAX_MESSAGE_BYTES: String(16 * 1024 * 1024),
  RECEIVER_MAX_BATCH_SERIES: "50",
  RECEIVER_NEW_SENSORS_PER_DEVICE: "5",
  RECEIVER_MAX_REJECTS_PER_STREAM: "5",
  RECEIVER_DEAD_LETTER_MAX_PAYLOAD_BYTES: "1024",
  RECEIVER_DEAD_LETTERS_PER_DEVICE_PER_DAY: "8",
  // A batch delivered more than once is written on its own, never dropped.
  NATS_MAX_DELIVER: "1",
  RECEIVER_MAX_CONNECTION_IDLE_MS: "1000",
};

/** A length-delimited protobuf field (the StreamRequest wrapper of a batch is field 2). */
function lengthDelimited(field: number, body: Uint8Array): Uint8Array {
  const head = [(field << 3) | 2];
  let n = body.length;
  while (n >= 128) {
    head.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  head.push(n);
  return Buffer.concat([Uint8Array.from(head), body]);
}

describe("ingest bounds (issue 12)", () => {
  let pipeline: Pipeline;
  let next = 1;
  const now = Date.now();

  /** A new device, with its own rate limit when given. */
  async function device(rateLimit?: { perSecond: number; burst: number }) {
    const number = next++;
    const { apiKey, id } = await createDevice(
      { db: pipeline.database.db, actor: "system:e2e" },
      { code: "ABUSE", number, ...(rateLimit ? { rateLimit } : {}) },
    );
    return { apiKey, id, number };
  }

  async function open(apiKey: string): Promise<RawStream> {
    const s = openRawStream(pipeline.receiver.port, apiKey);
    s.hello();
    expect((await s.next()).kind.case).toBe("welcome");
    return s;
  }

  function answer(r: StreamResponse) {
    const v = r.kind.value as { seq?: bigint; code?: RejectCode; reason?: string } | undefined;
    return { case: r.kind.case, seq: Number(v?.seq ?? 0), code: v?.code, reason: v?.reason };
  }

  async function storedSeqs(deviceId: number): Promise<number[]> {
    const { rows } = await sql<{ seq: string }>`
      SELECT DISTINCT seq::text FROM readings WHERE device_id = ${deviceId} ORDER BY 1`.execute(pipeline.database.db);
    return rows.map((r) => Number(r.seq));
  }

  async function deadLetters(deviceId: number) {
    const { rows } = await sql<{ seq: string | null; source: string; code: string; stored: number; bytes: number }>`
      SELECT seq::text, source, code, octet_length(payload) AS stored, payload_bytes AS bytes
      FROM dead_letters WHERE device_id = ${deviceId} ORDER BY id`.execute(pipeline.database.db);
    return rows;
  }

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: ENV });
  });
  afterAll(() => pipeline?.stop());

  it("item 2: a batch of 75,000 readings, each in its own packed chunk, neither stalls the servers nor is lost", async () => {
    const d = await device();
    const bytes = sampleBatchBytes({ bytes: 1_400_000, encoding: "chunked", seq: 1, startMs: now - 86_400_000 });
    const readings = 75_000;
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const s = await open(d.apiKey);
    s.bytes(lengthDelimited(2, bytes));
    expect(answer(await s.next(20_000))).toMatchObject({ case: "ack", seq: 1 });
    await waitFor(
      "readings stored",
      async () => {
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM readings WHERE device_id = ${d.id}`.execute(pipeline.database.db);
        return rows[0]!.n >= readings;
      },
      30_000,
    );
    delay.disable();
    s.close();
    // Receiver, writer and query share this process: none of them blocked it for long.
    // (The quadratic decoder took 8.6 s for 96 KB.)
    expect(delay.max / 1e6).toBeLessThan(1_000);
  });

  it("item 3: a batch whose storage is known to fail is rejected, not acked", async () => {
    const d = await device();
    const s = await open(d.apiKey);
    s.batch(testBatch(1, [now - 3000], [1], "known.sensor"));
    expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 1 });
    // The dictionary has no id left for a new name.
    await sql`SELECT setval(pg_get_serial_sequence('sensors', 'id'), 2147483647)`.execute(pipeline.database.db);
    try {
      s.batch(testBatch(2, [now - 2000], [2], "brand.new_sensor"));
      const refused = answer(await s.next());
      expect(refused).toMatchObject({ case: "reject", seq: 2, code: RejectCode.SENSOR_LIMIT });
      expect(refused.reason).toMatch(/no ids left/);
      // Known sensors still flow.
      s.batch(testBatch(3, [now - 1000], [3], "known.sensor"));
      expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 3 });
    } finally {
      await sql`SELECT setval(pg_get_serial_sequence('sensors', 'id'), (SELECT max(id) FROM sensors))`.execute(
        pipeline.database.db,
      );
    }
    await waitFor("acked batches stored", async () => (await storedSeqs(d.id)).length === 2, 10_000);
    expect(await storedSeqs(d.id)).toEqual([1, 3]);
    // Refused before the ack: a receiver dead letter, nothing the writer had to set aside.
    expect((await deadLetters(d.id)).map((l) => [l.seq, l.source, l.code])).toEqual([
      ["2", "receiver", "REJECT_CODE_SENSOR_LIMIT"],
    ]);
    s.close();
  });

  it("item 3: one device cannot use up the sensor names; over its quota it is rejected, another device's new sensor is stored", async () => {
    const greedy = await device();
    const s = await open(greedy.apiKey);
    const batchOf = (seq: number, names: string[]) => ({
      seq,
      series: names.map((sensor) => ({
        sensor,
        times: Float64Array.of(now - 1000),
        values: Float64Array.of(seq),
      })),
    });
    s.batch(batchOf(1, ["g.a", "g.b", "g.c"]));
    expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 1 });
    s.batch(batchOf(2, ["g.a", "g.d", "g.e", "g.f"]));
    const over = answer(await s.next());
    expect(over).toMatchObject({ case: "reject", seq: 2, code: RejectCode.SENSOR_LIMIT });
    expect(over.reason).toMatch(/added 3 of at most 5 new sensor names/);
    s.batch(batchOf(3, ["g.a", "g.d", "g.e"]));
    expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 3 });
    s.close();

    const other = await device();
    const t = await open(other.apiKey);
    t.batch(testBatch(1, [now - 500], [42], "other.new_sensor"));
    expect(answer(await t.next())).toMatchObject({ case: "ack", seq: 1 });
    t.close();
    await waitFor("the other device's reading stored", async () => (await storedSeqs(other.id)).length === 1, 10_000);
    const { rows } = await sql<{ name: string; by: number }>`
      SELECT name, registered_by AS by FROM sensors WHERE name LIKE 'g.%' OR name = 'other.new_sensor' ORDER BY name`.execute(
      pipeline.database.db,
    );
    expect(rows.map((r) => [r.name, r.by])).toEqual([
      ["g.a", greedy.id],
      ["g.b", greedy.id],
      ["g.c", greedy.id],
      ["g.d", greedy.id],
      ["g.e", greedy.id],
      ["other.new_sensor", other.id],
    ]);
  });

  it("item 3: a batch with more series than max_batch_series is rejected with TOO_MANY_SERIES", async () => {
    const d = await device();
    const s = openRawStream(pipeline.receiver.port, d.apiKey);
    s.hello();
    const welcome = await s.next();
    expect(welcome.kind.value).toMatchObject({ limits: { maxBatchSeries: 50, maxNewSensors: 5 } });
    const series = Array.from({ length: 51 }, (_, i) => ({
      sensor: `wide.s${i}`,
      times: Float64Array.of(now - 1000),
      values: Float64Array.of(i),
    }));
    s.batch({ seq: 1, series });
    expect(answer(await s.next())).toMatchObject({ case: "reject", seq: 1, code: RejectCode.TOO_MANY_SERIES });
    s.close();
  });

  it("item 3: a batch larger than the log takes is rejected as TOO_LARGE instead of never being answered", async () => {
    const d = await device();
    const s = await open(d.apiKey);
    const batch = encodeReadingBatch(testBatch(1, [now - 1000], [1]));
    // A valid batch with 9 MiB in an unknown field (15): the decoder skips it, NATS (max_payload 8 MB) could not take it.
    const padded = Buffer.concat([batch, lengthDelimited(15, new Uint8Array(9 * 1024 * 1024))]);
    s.bytes(lengthDelimited(2, padded));
    const refused = answer(await s.next(20_000));
    expect(refused).toMatchObject({ case: "reject", seq: 1, code: RejectCode.TOO_LARGE });
    expect(refused.reason).toMatch(/the log takes at most/);
    s.close();
  });

  it("item 3: an acked batch the database cannot take for a reason not its own waits and is stored, never dead-lettered", async () => {
    const d = await device();
    const s = await open(d.apiKey);
    const { db } = pipeline.database;
    await sql`ALTER TABLE readings RENAME TO readings_away`.execute(db);
    let renamed = true;
    try {
      s.batch(testBatch(1, [now - 1000], [1], "known.sensor"));
      expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 1 });
      // The writer tries, fails (no such table), and keeps the batch.
      await new Promise((r) => setTimeout(r, 1_500));
      // The writer the pipeline runs stops meanwhile (a rollout): the batch goes back to JetStream
      // and is delivered again, more often than NATS_MAX_DELIVER.
      await pipeline.writer.stop();
      await sql`ALTER TABLE readings_away RENAME TO readings`.execute(db);
      renamed = false;
    } finally {
      if (renamed) await sql`ALTER TABLE readings_away RENAME TO readings`.execute(db);
    }
    const writer = createWriterApp(
      loadWriterConfig({
        DATABASE_URL: (pipeline.database.pool?.options.connectionString as string) ?? "",
        NATS_URL: inject("natsUrl"),
        WRITER_OPS_PORT: "0",
        WRITER_OPS_HOST: "127.0.0.1",
        ...ENV,
      }),
      { logger: createLogger({ name: "e2e", level: "warn" }) },
    );
    await writer.start();
    try {
      await waitFor("the batch stored", async () => (await storedSeqs(d.id)).length === 1, 20_000);
      expect(await deadLetters(d.id)).toEqual([]);
    } finally {
      await writer.stop();
    }
    s.close();
  });

  it("item 5: every batch costs tokens: empty batches and BAD_SEQ rejects throttle a device that floods", async () => {
    const d = await device({ perSecond: 1, burst: 3 });
    const s = await open(d.apiKey);
    s.batch(testBatch(10, [now - 1000], [1]));
    expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 10 });
    // Two resends of an old seq (BAD_SEQ, 1 reading each): the bucket is spent.
    for (let i = 0; i < 2; i++) {
      s.batch(testBatch(5, [now - 900], [1]));
      expect(answer(await s.next())).toMatchObject({ case: "reject", code: RejectCode.BAD_SEQ });
    }
    // An empty batch costs a token too: throttled now.
    s.batch({ seq: 11, series: [] });
    expect(answer(await s.next())).toMatchObject({ case: "throttle", seq: 11 });
    s.close();
  });

  it("item 5: rejects close the stream, stored payloads are cut, and a device's dead letters are capped per day", async () => {
    const d = await device();
    const big = (seq: number) =>
      testBatch(
        seq,
        Array.from({ length: 300 }, (_, i) => now - 1000 + i),
        Array(300).fill(NaN),
      );
    let seq = 1;
    let sent = 0;
    for (let stream = 0; stream < 3; stream++) {
      const s = await open(d.apiKey);
      for (let i = 0; i < 5; i++) {
        s.batch(big(seq++));
        sent++;
        expect(answer(await s.next())).toMatchObject({ case: "reject", code: RejectCode.INVALID_BATCH });
      }
      const ended = await s.status;
      expect(ended.code).toBe(status.INVALID_ARGUMENT);
      expect(ended.details).toMatch(/5 batches or messages rejected in a row/);
    }
    expect(sent).toBe(15);
    await waitFor("dead letters written", async () => (await deadLetters(d.id)).length >= 8, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const letters = await deadLetters(d.id);
    expect(letters).toHaveLength(8);
    for (const l of letters) {
      expect(l.stored).toBe(1024);
      expect(l.bytes).toBeGreaterThan(4000);
    }
    const { rows } = await sql<{
      id: string;
    }>`SELECT id::text FROM dead_letters WHERE device_id = ${d.id} LIMIT 1`.execute(pipeline.database.db);
    await expect(
      replayDeadLetter(
        {
          db: pipeline.database.db,
          bus: { append: async () => ({ duplicate: false }) } as never,
          limits: { maxBatchReadings: 1e6, maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000 },
          actor: "system:e2e",
        },
        Number(rows[0]!.id),
      ),
    ).rejects.toThrow(/kept only 1024 of its \d+ bytes/);
  });

  it("item 5: rejects between stored batches do not close a stream", async () => {
    const d = await device();
    const s = await open(d.apiKey);
    for (let i = 0; i < 6; i++) {
      s.batch(testBatch(2 * i + 1, [now - 1000 + i], [Number.NaN]));
      expect(answer(await s.next())).toMatchObject({ case: "reject" });
      s.batch(testBatch(2 * i + 2, [now - 1000 + i], [i]));
      expect(answer(await s.next())).toMatchObject({ case: "ack", seq: 2 * i + 2 });
    }
    s.end();
    expect((await s.status).code).toBe(status.OK);
  });

  it("item 6: a device keeps its rate-limit bucket across reconnects", async () => {
    const d = await device({ perSecond: 1, burst: 10 });
    const answers: string[] = [];
    for (let stream = 0; stream < 3; stream++) {
      const s = await open(d.apiKey);
      const times = Array.from({ length: 10 }, (_, i) => now - 10_000 + stream * 10 + i);
      s.batch(testBatch(stream + 1, times, Array(10).fill(1)));
      answers.push(answer(await s.next()).case ?? "");
      s.end();
      await s.status;
    }
    // The first stream spent the burst; reconnecting does not refill it.
    expect(answers).toEqual(["ack", "throttle", "throttle"]);
  });

  it("item 14: a connection that never opens a stream is closed after RECEIVER_MAX_CONNECTION_IDLE_MS", async () => {
    const session = http2Connect(`http://127.0.0.1:${pipeline.receiver.port}`);
    session.on("error", () => {});
    const started = Date.now();
    const closed = new Promise<number>((resolve) => session.on("close", () => resolve(Date.now() - started)));
    const goaway = new Promise<boolean>((resolve) => session.on("goaway", () => resolve(true)));
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    session.destroy();
    expect(await Promise.race([goaway, Promise.resolve(false)])).toBe(true);
    expect(ms).toBeGreaterThan(500);
    expect(ms).toBeLessThan(5_000);
  });
});

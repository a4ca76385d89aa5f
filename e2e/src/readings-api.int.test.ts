import { Code, type ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { sql } from "@vigil/db";
import { AuditService, Order, ReadingService, StatsSource } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const HOUR = 3_600_000;
/** A fixed past hour, so buckets are known: 2026-01-01T00:00Z. */
const T0 = Date.UTC(2026, 0, 1);

/** Inserts readings directly, as the writer would have: device OR-n, sensor name, time offset, value. */
async function insert(pipeline: Pipeline, rows: Array<[number, string, number, number]>) {
  const db = pipeline.database.db;
  for (const [number, sensor] of rows) {
    await sql`INSERT INTO devices (code, number) VALUES ('OR', ${number}) ON CONFLICT DO NOTHING`.execute(db);
    await sql`INSERT INTO sensors (name) VALUES (${sensor}) ON CONFLICT DO NOTHING`.execute(db);
  }
  for (const [number, sensor, offsetMs, value] of rows) {
    await sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT ${new Date(T0 + offsetMs)}, ${value}, 1, now(), d.id, s.id FROM devices d, sensors s
      WHERE d.code = 'OR' AND d.number = ${number} AND s.name = ${sensor}`.execute(db);
  }
}

/** percentile_cont: linear interpolation between closest ranks. */
function percentile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

describe("readings API", () => {
  let pipeline: Pipeline;
  let admin = "";
  let user = "";
  const auth =
    (token: () => string): Interceptor =>
    (next) =>
    async (req) => {
      req.header.set("authorization", `Bearer ${token()}`);
      return next(req);
    };
  const transports = (token: () => string) => {
    const base = pipeline.queryUrl;
    const interceptors = [auth(token)];
    return {
      "Connect-JSON": createConnectTransport({
        baseUrl: base,
        httpVersion: "1.1",
        useBinaryFormat: false,
        interceptors,
      }),
      gRPC: createGrpcTransport({ baseUrl: base, interceptors }),
      "gRPC-Web": createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", interceptors }),
    };
  };

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      env: {
        QUERY_WATCH_BUFFER_BATCHES: "100",
        RECEIVER_RATE_LIMIT_PER_S: "10000000",
        RECEIVER_RATE_LIMIT_BURST: "100000000",
      },
    });
    admin = await pipeline.adminToken();
    user = await pipeline.userToken("clinician");
  });
  afterAll(() => pipeline?.stop());

  it("computes stats per bucket equal to figures computed independently from the values", async () => {
    const values: Array<[number, string, number, number]> = [];
    for (let i = 0; i < 120; i++)
      values.push([1, "motor.temperature_c", (i % 2) * HOUR + i * 1000, 20 + ((i * 37) % 50) / 3]);
    await insert(pipeline, values);
    for (const [name, transport] of Object.entries(transports(() => user))) {
      const client = createClient(ReadingService, transport);
      const { buckets } = await client.getStats({
        filter: {
          deviceCode: "OR",
          deviceNumber: 1,
          sensor: "motor.temperature_c",
          startTime: { seconds: BigInt(T0 / 1000), nanos: 0 },
          endTime: { seconds: BigInt((T0 + 2 * HOUR) / 1000), nanos: 0 },
        },
        bucket: "1h",
      });
      expect(buckets, name).toHaveLength(2);
      for (const [hour, b] of buckets.entries()) {
        const vs = values
          .filter(([, , off]) => Math.floor(off / HOUR) === hour)
          .map(([, , , v]) => v)
          .sort((a, c) => a - c);
        expect(Number(b.startTime?.seconds) * 1000, name).toBe(T0 + hour * HOUR);
        expect(Number(b.count), name).toBe(vs.length);
        expect(b.min, name).toBe(vs[0]);
        expect(b.max, name).toBe(vs.at(-1));
        expect(b.avg, name).toBeCloseTo(vs.reduce((s, v) => s + v, 0) / vs.length, 9);
        expect(b.p50, name).toBeCloseTo(percentile(vs, 0.5), 9);
        expect(b.p95, name).toBeCloseTo(percentile(vs, 0.95), 9);
        expect(b.p99, name).toBeCloseTo(percentile(vs, 0.99), 9);
      }
    }
  });

  it("says where stats come from: raw readings for narrow ranges, the aggregates for wide ones", async () => {
    const client = createClient(ReadingService, transports(() => user)["Connect-JSON"]);
    const sourceOf = async (spanMs: number, bucket: string) =>
      (
        await client.getStats({
          filter: {
            deviceCode: "OR",
            startTime: { seconds: BigInt(T0 / 1000), nanos: 0 },
            endTime: { seconds: BigInt((T0 + spanMs) / 1000), nanos: 0 },
          },
          bucket,
        })
      ).source;
    // Exact percentiles up to 6 hours; within 1 % from the 1-minute, then the 1-hour aggregates.
    expect(await sourceOf(2 * HOUR, "1h")).toBe(StatsSource.RAW);
    expect(await sourceOf(2 * 24 * HOUR, "1h")).toBe(StatsSource.AGGREGATE_1M);
    expect(await sourceOf(30 * 24 * HOUR, "1h")).toBe(StatsSource.AGGREGATE_1H);
    // A bucket that is not whole minutes can only come from raw readings.
    expect(await sourceOf(2 * 24 * HOUR, "90s")).toBe(StatsSource.RAW);
  });

  it("updates readings by filter, with every rule and an audit row", async () => {
    await insert(pipeline, [
      [2, "spo2", 10 * HOUR, 97],
      [2, "spo2", 10 * HOUR + 1000, 98],
      [3, "spo2", 10 * HOUR, 99],
    ]);
    const [connectJson, grpc, grpcWeb] = Object.values(transports(() => admin)).map((t) =>
      createClient(ReadingService, t),
    );
    const fail = async (p: Promise<unknown>) =>
      (await p.then(
        () => undefined,
        (e) => e,
      )) as ConnectError;
    const hours = (from: number, to: number) => ({
      startTime: { seconds: BigInt((T0 + from * HOUR) / 1000), nanos: 0 },
      endTime: { seconds: BigInt((T0 + to * HOUR) / 1000), nanos: 0 },
    });
    expect((await fail(connectJson!.updateReadings({ changes: { value: 1 } }))).rawMessage).toMatch(
      /^filter.device_code: a correction names one device/,
    );
    expect(
      (await fail(grpc!.updateReadings({ filter: { deviceCode: "OR", deviceNumber: 2, ...hours(9, 11) } }))).rawMessage,
    ).toMatch(/^changes: set at least one/);
    const backwards = await fail(
      grpcWeb!.updateReadings({
        filter: { deviceCode: "OR", deviceNumber: 2, ...hours(11, 9) },
        changes: { value: 1 },
      }),
    );
    expect(backwards.code).toBe(Code.InvalidArgument);
    expect(backwards.rawMessage).toMatch(/^filter.start_time: must not be after end_time/);

    const changed = await grpc!.updateReadings({
      filter: { deviceCode: "OR", deviceNumber: 2, sensor: "spo2", ...hours(9, 11) },
      changes: { value: 95.5 },
    });
    expect(changed.updatedCount).toBe(2n);
    const renamed = await connectJson!.updateReadings({
      filter: { deviceCode: "OR", deviceNumber: 3, ...hours(9, 11) },
      changes: { sensor: "spo2.percent" },
    });
    expect(renamed.updatedCount).toBe(1n);
    const collide = await fail(
      connectJson!.updateReadings({
        filter: { deviceCode: "OR", deviceNumber: 2, sensor: "spo2", ...hours(9, 11) },
        changes: { time: { seconds: BigInt((T0 + 10 * HOUR) / 1000), nanos: 0 } },
      }),
    );
    expect(collide.code).toBe(Code.FailedPrecondition);
    const list = await connectJson!.listReadings({ filter: { deviceCode: "OR", deviceNumber: 2 } });
    expect(list.readings.map((r) => r.value)).toEqual([95.5, 95.5]);
    expect(list.readings.every((r) => r.updatedAt !== undefined)).toBe(true);
    const { rows } = await sql<{
      actor: string;
      rows_affected: number;
      target: string;
      details: { device: string; sensor: string; changes: unknown };
    }>`
      SELECT actor, rows_affected, target, details FROM audit_log WHERE action = 'readings.update' ORDER BY id`.execute(
      pipeline.database.db,
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      actor: "user:admin",
      target: `correction:${changed.correctionId}`,
      details: { device: "OR-2", sensor: "spo2", changes: { value: 95.5 } },
    });
    expect(Number(rows[0]!.rows_affected)).toBe(2);
  });

  it("soft-deletes for admins only; deleted readings vanish from lists and stats", async () => {
    await insert(pipeline, [
      [4, "heart_rate", 20 * HOUR, 70],
      [4, "heart_rate", 20 * HOUR + 1, 71],
    ]);
    const asUser = createClient(ReadingService, transports(() => user).gRPC);
    const asAdmin = createClient(ReadingService, transports(() => admin)["gRPC-Web"]);
    const day = {
      startTime: { seconds: BigInt(T0 / 1000), nanos: 0 },
      endTime: { seconds: BigInt((T0 + 24 * HOUR) / 1000), nanos: 0 },
    };
    const denied = (await asUser
      .deleteReadings({ filter: { deviceCode: "OR", deviceNumber: 4, ...day } })
      .catch((e: unknown) => e)) as ConnectError;
    expect(denied.code).toBe(Code.PermissionDenied);
    expect(((await asAdmin.deleteReadings({ filter: {} }).catch((e: unknown) => e)) as ConnectError).code).toBe(
      Code.InvalidArgument,
    );
    const deleted = await asAdmin.deleteReadings({
      filter: { deviceCode: "OR", deviceNumber: 4, sensor: "heart_rate", ...day },
    });
    expect(deleted.deletedCount).toBe(2n);
    expect((await asAdmin.deleteReadings({ filter: { deviceCode: "OR", deviceNumber: 4, ...day } })).deletedCount).toBe(
      0n,
    );
    const after = await asUser.listReadings({ filter: { deviceCode: "OR", deviceNumber: 4 } });
    expect(after).toMatchObject({ totalSize: 0n, readings: [] });
    const stats = await asUser.getStats({
      filter: { deviceCode: "OR", deviceNumber: 4, startTime: { seconds: BigInt((T0 + 20 * HOUR) / 1000), nanos: 0 } },
      bucket: "1h",
    });
    expect(stats.buckets).toEqual([]);
    const { rows } = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM readings WHERE deleted_at IS NOT NULL`.execute(pipeline.database.db);
    expect(rows[0]!.n).toBe(2);
    const audit = createClient(AuditService, transports(() => admin)["Connect-JSON"]);
    const { entries } = await audit.listAuditLog({ action: "readings.delete" });
    expect(entries.map((e) => [e.actor, e.rowsAffected])).toEqual([
      ["user:admin", 0n],
      ["user:admin", 2n],
    ]);
  });

  it("pages through every row exactly once, newest or oldest first, while inserts continue", async () => {
    const initial: Array<[number, string, number, number]> = Array.from({ length: 450 }, (_, i) => [
      5,
      "pressure",
      30 * HOUR + i * 1000,
      i,
    ]);
    await insert(pipeline, initial);
    for (const order of [Order.OLDEST_FIRST, Order.NEWEST_FIRST]) {
      const client = createClient(ReadingService, transports(() => user).gRPC);
      const seen = new Map<string, number>();
      let pageToken = "";
      let inserted = 0;
      let total: bigint | undefined;
      do {
        const page = await client.listReadings({
          filter: { deviceCode: "OR", deviceNumber: 5 },
          order,
          pageSize: 100,
          pageToken,
        });
        total ??= page.totalSize;
        expect(page.totalSize).toBe(total); // counted on the first page, carried in the token
        for (const r of page.readings) {
          const key = `${r.sensor}@${r.time?.seconds}.${r.time?.nanos}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
        // Rows keep arriving, before and after the cursor.
        await insert(pipeline, [
          [5, "pressure", 30 * HOUR - (++inserted + order * 1000) * 1000, -1],
          [5, "pressure", 40 * HOUR + (inserted + order * 1000) * 1000, -2],
        ]);
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      for (const [, , off] of initial)
        expect(seen.has(`pressure@${BigInt((T0 + off) / 1000)}.${((T0 + off) % 1000) * 1e6}`)).toBe(true);
    }
  });

  it("counts up to 1,000 matching readings exactly and estimates larger totals from the statistics", async () => {
    await insert(pipeline, [[9, "flow", 0, 0]]);
    const bulk = (from: number, to: number) =>
      sql`
      INSERT INTO readings (time, value, seq, received_at, device_id, sensor_id)
      SELECT ${new Date(T0 + 50 * HOUR)}::timestamptz + i * interval '1 second', i, 1, now(), d.id, s.id
      FROM devices d, sensors s, generate_series(${from}::int, ${to}::int) AS i
      WHERE d.code = 'OR' AND d.number = 9 AND s.name = 'flow'`.execute(pipeline.database.db);
    await bulk(1, 1000);
    const asAdmin = createClient(ReadingService, transports(() => admin)["Connect-JSON"]);
    const asUser = createClient(ReadingService, transports(() => user)["Connect-JSON"]);
    const total = async () =>
      Number((await asUser.listReadings({ filter: { deviceCode: "OR", deviceNumber: 9 }, pageSize: 1 })).totalSize);
    expect(await total()).toBeGreaterThan(1000); // an estimate: more than 1,000 match
    const first = { seconds: BigInt(T0 / 1000), nanos: 0 };
    const deleted = await asAdmin.deleteReadings({
      filter: {
        deviceCode: "OR",
        deviceNumber: 9,
        startTime: first,
        endTime: { seconds: first.seconds + 1n, nanos: 0 },
      },
    });
    expect(deleted.deletedCount).toBe(1n);
    expect(await total()).toBe(1000); // exact, without the soft-deleted one
    await bulk(1001, 5000);
    await sql`ANALYZE readings`.execute(pipeline.database.db); // what autovacuum does as rows arrive
    const estimate = await total();
    expect(estimate).toBeGreaterThanOrEqual(0.8 * 5000);
    expect(estimate).toBeLessThanOrEqual(1.2 * 5000);
  });

  it("streams new readings to watchers over gRPC-Web and Connect, filtered, and drops a client that stops reading", async () => {
    const [device] = await pipeline.provision("ICU", 1);
    const now = Date.now();
    const seen: string[] = [];
    // Each watcher stops (break: a clean cancel) once it has the two spo2 readings.
    const watchers = Object.entries(transports(() => user))
      .filter(([name]) => name !== "gRPC")
      .map(async ([, t]) => {
        const client = createClient(ReadingService, t);
        let mine = 0;
        for await (const res of client.watchReadings({ filter: { deviceCode: "ICU", sensor: "spo2" } })) {
          for (const r of res.readings) seen.push(`${r.sensor}=${r.value}`);
          mine += res.readings.length;
          if (mine >= 2) break;
        }
      });
    await new Promise((r) => setTimeout(r, 500));
    const s = openRawStream(pipeline.receiver.port, device!.apiKey);
    s.hello();
    await s.next();
    s.batch({
      seq: 1,
      series: [
        { sensor: "spo2", times: Float64Array.of(now - 2, now - 1), values: Float64Array.of(97, 98) },
        { sensor: "heart_rate", times: Float64Array.of(now - 1), values: Float64Array.of(70) },
      ],
    });
    await s.next();
    await Promise.allSettled(watchers);
    expect(seen.sort()).toEqual(["spo2=97", "spo2=97", "spo2=98", "spo2=98"]);

    // A watcher that never reads is dropped instead of being buffered for, and does not slow
    // down a watcher that keeps up.
    // (fetch resolves with the response headers, which come with the first message: not awaited yet.)
    const stalled = fetch(`${pipeline.queryUrl}/vigil.readings.v1.ReadingService/WatchReadings`, {
      method: "POST",
      headers: { "content-type": "application/connect+json", authorization: `Bearer ${user}` },
      body: envelope({ filter: { deviceCode: "ICU" } }),
    });
    let keptUp = 0;
    let caughtUp = false;
    let progressed: (() => void) | undefined;
    const fast = (async () => {
      const client = createClient(ReadingService, transports(() => user)["gRPC-Web"]);
      for await (const r of client.watchReadings({ filter: { deviceCode: "ICU" } })) {
        keptUp += r.readings.length;
        progressed?.();
        if (caughtUp) break;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    // Enough data to fill the stalled client's socket buffers many times over. Each batch is
    // sent once the reading watcher has the one before, however slow this machine is: the
    // reading watcher is never behind, the stalled one falls further behind with every batch.
    const batches = 600;
    const size = 200;
    for (let seq = 2; seq < 2 + batches; seq++) {
      const target = (seq - 1) * size;
      const seen = new Promise<void>((resolve) => {
        progressed = () => keptUp >= target && resolve();
      });
      s.batch(
        testBatch(
          seq,
          Array.from({ length: size }, (_, i) => now - 3_600_000 + seq * size + i),
          Array(size).fill(seq),
          "spo2",
        ),
      );
      await seen;
    }
    expect(keptUp).toBe(batches * size);
    const started = Date.now();
    const outcome = await (await stalled).arrayBuffer().then(
      (body) => Buffer.from(body).toString("latin1"),
      (err) => `cut: ${err}`,
    );
    expect(outcome).toMatch(/"code":"resource_exhausted".*fell more than 100 batches behind|^cut: /);
    expect(Date.now() - started).toBeLessThan(15_000);
    caughtUp = true;
    s.batch(testBatch(9_999, [now], [0], "spo2"));
    await fast;
    s.close();
  });

  it("treats SQL-looking input as data: refused where it is not a valid value, matched literally elsewhere", async () => {
    const client = createClient(ReadingService, transports(() => admin)["Connect-JSON"]);
    const nasty = "x'); DROP TABLE readings; --";
    for (const filter of [{ deviceCode: nasty }, { sensor: nasty }, { deviceCode: "OR' OR '1'='1" }]) {
      const err = (await client.listReadings({ filter }).catch((e: unknown) => e)) as ConnectError;
      expect(err.code, JSON.stringify(filter)).toBe(Code.InvalidArgument);
    }
    const audit = createClient(AuditService, transports(() => admin)["Connect-JSON"]);
    expect((await audit.listAuditLog({ actor: nasty, action: "' OR 1=1 --" })).entries).toEqual([]);
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM readings`.execute(pipeline.database.db);
    expect(rows[0]!.n).toBeGreaterThan(0);
  });
});

function envelope(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

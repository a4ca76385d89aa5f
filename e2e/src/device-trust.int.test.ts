import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { status } from "@grpc/grpc-js";
import { sql } from "@vigil/db";
import { DeadLetterService, DeviceService, RejectCode } from "@vigil/proto";
import { waitFor } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("device identity, keys and the stream protocol", () => {
  let pipeline: Pipeline;
  let devices: ReturnType<typeof createClient<typeof DeviceService>>;
  let deadLetters: ReturnType<typeof createClient<typeof DeadLetterService>>;
  const now = Date.now();

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      env: { RECEIVER_HELLO_TIMEOUT_MS: "500", RECEIVER_MAX_BATCH_READINGS: "100" },
    });
    const token = await pipeline.adminToken();
    const transport = createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "1.1",
      interceptors: [
        (next) => async (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    devices = createClient(DeviceService, transport);
    deadLetters = createClient(DeadLetterService, transport);
  });
  afterAll(() => pipeline?.stop());

  async function connected(apiKey: string) {
    const s = openRawStream(pipeline.receiver.port, apiKey);
    s.hello();
    const welcome = await s.next();
    expect(welcome.kind.case).toBe("welcome");
    return { stream: s, welcome: welcome.kind.value as { lastDurableSeq: bigint } };
  }

  it("creates a device, returns its key once, and shows presence from the live stream", async () => {
    const created = await devices.createDevice({
      code: "OR",
      number: 1,
      kind: "surgical_robot",
      site: "theatre-3",
      labels: { ward: "b" },
    });
    expect(created.apiKey).toMatch(/^vgl_[a-z0-9]{12}_/);
    expect(created.device).toMatchObject({
      code: "OR",
      number: 1,
      kind: "surgical_robot",
      online: false,
      labels: { ward: "b" },
    });
    const shown = JSON.stringify(created.device, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(shown).not.toContain(created.apiKey.slice(17));
    const { stream } = await connected(created.apiKey);
    await waitFor(
      "device online",
      async () => (await devices.getDevice({ code: "OR", number: 1 })).device?.online === true,
      5_000,
    );
    const seen = (await devices.getDevice({ code: "OR", number: 1 })).device;
    expect(Math.abs(Number(seen?.lastSeenTime?.seconds) * 1000 - Date.now())).toBeLessThan(10_000);
    stream.end();
    await stream.status;
    await waitFor(
      "device offline",
      async () => (await devices.getDevice({ code: "OR", number: 1 })).device?.online === false,
      5_000,
    );
    const again = await devices.createDevice({ code: "OR", number: 1 }).catch((e) => e);
    expect(String(again)).toMatch(/already_exists|already exists/i);
  });

  it("rotates a key with a grace period, then revokes the old key: its stream ends within a second", async () => {
    const { apiKey: oldKey } = await devices.createDevice({ code: "OR", number: 2 });
    const rotated = await devices.rotateDeviceKey({ code: "OR", number: 2, gracePeriod: { seconds: 3600n } });
    const oldPrefix = oldKey.slice(4, 16);
    const a = await connected(oldKey);
    const b = await connected(rotated.apiKey);
    const revokedAt = Date.now();
    await devices.revokeDeviceKey({ code: "OR", number: 2, prefix: oldPrefix });
    const ended = await a.stream.status;
    expect(ended.code).toBe(status.UNAUTHENTICATED);
    expect(ended.details).toMatch(/revoked/);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    // The new key's stream is untouched and still acks.
    b.stream.batch(testBatch(1, [now - 10], [1]));
    expect((await b.stream.next()).kind.case).toBe("ack");
    const refused = openRawStream(pipeline.receiver.port, oldKey);
    refused.hello();
    expect((await refused.status).code).toBe(status.UNAUTHENTICATED);

    const disabledAt = Date.now();
    await devices.disableDevice({ code: "OR", number: 2 });
    expect((await b.stream.status).details).toMatch(/disabled/);
    expect(Date.now() - disabledAt).toBeLessThan(1_000);

    const { rows } = await sql<{ action: string; actor: string }>`
      SELECT action, actor FROM audit_log WHERE target = 'device:OR-2' ORDER BY id`.execute(pipeline.database.db);
    expect(rows.map((r) => r.action)).toEqual([
      "device.create",
      "device_key.rotate",
      "device_key.revoke",
      "device.disable",
    ]);
    expect(rows.every((r) => r.actor === "user:admin")).toBe(true);
  });

  it("welcomes a reconnecting device with its last durable seq and acks resent batches without storing them again", async () => {
    const { apiKey } = await devices.createDevice({ code: "OR", number: 3 });
    const first = await connected(apiKey);
    for (const seq of [1, 2, 3]) first.stream.batch(testBatch(seq, [now - 100 + seq], [seq]));
    for (const seq of [1n, 2n, 3n])
      expect((await first.stream.next()).kind).toMatchObject({ case: "ack", value: { seq } });
    first.stream.close();
    const second = await connected(apiKey);
    expect(second.welcome.lastDurableSeq).toBe(3n);
    await waitFor(
      "seqs 1-3 stored",
      async () => (await devices.getDevice({ code: "OR", number: 3 })).device?.lastStoredSeq === 3n,
    );
    const batchesBefore = pipeline.writer.stats.batches;
    second.stream.batch(testBatch(2, [now - 98], [2]));
    expect((await second.stream.next()).kind).toMatchObject({ case: "ack", value: { seq: 2n, duplicate: true } });
    second.stream.batch(testBatch(4, [now - 96], [4]));
    expect((await second.stream.next()).kind).toMatchObject({ case: "ack", value: { seq: 4n, duplicate: false } });
    await waitFor("seq 4 stored", () => pipeline.writer.stats.batches >= batchesBefore + 1, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(pipeline.writer.stats.batches).toBe(batchesBefore + 1);
    second.stream.close();
  });

  it("throttles a device over its rate, and every later batch until the throttled one is resent", async () => {
    const { apiKey } = await devices.createDevice({
      code: "OR",
      number: 4,
      rateLimit: { readingsPerSecond: 100, burst: 100 },
    });
    const { stream } = await connected(apiKey);
    const batch = (seq: number) =>
      testBatch(
        seq,
        Array.from({ length: 60 }, (_, i) => now - 1000 * seq + i),
        Array(60).fill(1),
      );
    stream.batch(batch(1));
    expect((await stream.next()).kind.case).toBe("ack");
    stream.batch(batch(2));
    const throttle = await stream.next();
    expect(throttle.kind).toMatchObject({ case: "throttle", value: { seq: 2n } });
    const wait = throttle.kind.case === "throttle" ? throttle.kind.value.retryAfterMs : 0;
    expect(wait).toBeGreaterThan(100);
    expect(wait).toBeLessThanOrEqual(600);
    stream.batch(batch(3));
    expect((await stream.next()).kind).toMatchObject({ case: "throttle", value: { seq: 3n } });
    await new Promise((r) => setTimeout(r, wait + 50));
    // Resend 2, and send 4 before having resent 3 (as a device does that has not read every
    // Throttle yet): 4 waits behind 3, nothing is refused, nothing is stored out of order.
    // (An ack follows the append; a throttle is immediate: their order is not fixed.)
    const answers = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await stream.next();
        out.push(`${r.kind.case}:${(r.kind.value as { seq: bigint }).seq}`);
      }
      return out.sort();
    };
    stream.batch(batch(2));
    stream.batch(batch(4));
    expect(await answers(2)).toEqual(["ack:2", "throttle:4"]);
    await new Promise((r) => setTimeout(r, 1300));
    stream.batch(batch(3));
    stream.batch(batch(4));
    expect(await answers(2)).toEqual(["ack:3", "throttle:4"]);
    await new Promise((r) => setTimeout(r, 700));
    stream.batch(batch(4));
    expect(await answers(1)).toEqual(["ack:4"]);
    stream.close();
  });

  it("keeps every rejected batch as a dead letter, and replays one that now passes", async () => {
    const { apiKey } = await devices.createDevice({ code: "OR", number: 5 });
    const { stream } = await connected(apiKey);
    stream.batch(testBatch(1, [now - 2, now - 1], [Number.NaN, 1]));
    stream.batch(
      testBatch(
        2,
        Array.from({ length: 101 }, (_, i) => now - 200 + i),
        Array(101).fill(7),
      ),
    );
    expect((await stream.next()).kind).toMatchObject({
      case: "reject",
      value: { seq: 1n, code: RejectCode.INVALID_BATCH },
    });
    expect((await stream.next()).kind).toMatchObject({
      case: "reject",
      value: { seq: 2n, code: RejectCode.TOO_LARGE },
    });
    stream.close();
    let listed: Awaited<ReturnType<typeof deadLetters.listDeadLetters>> | undefined;
    await waitFor(
      "dead letters",
      async () => {
        listed = await deadLetters.listDeadLetters({ deviceCode: "OR", deviceNumber: 5 });
        return listed.deadLetters.length === 2;
      },
      5_000,
    );
    // Written in the background: their order is not fixed.
    const tooLarge = listed!.deadLetters.find((d) => d.seq === 2n);
    const nan = listed!.deadLetters.find((d) => d.seq === 1n);
    expect(tooLarge).toMatchObject({ device: "OR-5", seq: 2n, source: "receiver", code: "REJECT_CODE_TOO_LARGE" });
    expect(nan?.violations[0]).toMatchObject({
      field: "series[0].values[0]",
      description: "value is not a finite number",
    });
    // Replay re-validates: NaN still fails; the big batch passes (size is a transport limit) and is stored.
    expect(String(await deadLetters.replayDeadLetter({ id: nan!.id }).catch((e) => e))).toMatch(
      /still breaks the rules/,
    );
    const replayed = await deadLetters.replayDeadLetter({ id: tooLarge!.id });
    expect(replayed.readings).toBe(101);
    await waitFor(
      "replayed readings stored",
      async () => {
        const { rows } = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM readings r JOIN devices d ON d.id = r.device_id
        WHERE d.code = 'OR' AND d.number = 5 AND r.seq = 2`.execute(pipeline.database.db);
        return rows[0]?.n === 101;
      },
      10_000,
    );
    expect((await deadLetters.listDeadLetters({ deviceCode: "OR", deviceNumber: 5 })).deadLetters).toHaveLength(1);
    expect(String(await deadLetters.replayDeadLetter({ id: tooLarge!.id }).catch((e) => e))).toMatch(
      /already replayed/,
    );
  });

  it("closes a stream that never says Hello, and refuses a 100 MB message, while serving others", async () => {
    const { apiKey } = await devices.createDevice({ code: "OR", number: 6 });
    const silent = openRawStream(pipeline.receiver.port, apiKey);
    const quiet = await silent.status;
    expect(quiet.code).toBe(status.DEADLINE_EXCEEDED);
    expect(quiet.details).toMatch(/no Hello/);
    const big = await connected(apiKey);
    big.stream.bytes(new Uint8Array(100 * 1024 * 1024));
    expect((await big.stream.status).code).toBe(status.RESOURCE_EXHAUSTED);
    const ok = await connected(apiKey);
    ok.stream.batch(testBatch(1, [now - 5], [1]));
    expect((await ok.stream.next()).kind.case).toBe("ack");
    ok.stream.close();
  });

  it("refuses device administration to anyone without the devices:admin scope", async () => {
    const userToken = await pipeline.userToken("nurse");
    const asUser = createClient(
      DeviceService,
      createConnectTransport({
        baseUrl: pipeline.queryUrl,
        httpVersion: "1.1",
        interceptors: [
          (next) => async (req) => {
            req.header.set("authorization", `Bearer ${userToken}`);
            return next(req);
          },
        ],
      }),
    );
    expect(String(await asUser.listDevices({}).catch((e) => e))).toMatch(/permission_denied|devices:admin/i);
    const anonymous = createClient(
      DeviceService,
      createConnectTransport({ baseUrl: pipeline.queryUrl, httpVersion: "1.1" }),
    );
    expect(String(await anonymous.listDevices({}).catch((e) => e))).toMatch(/unauthenticated/i);
  });
});

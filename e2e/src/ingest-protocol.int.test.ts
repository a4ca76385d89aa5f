import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { status } from "@grpc/grpc-js";
import { RejectCode } from "@vigil/proto";
import { repoRoot } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("ingest protocol", () => {
  let pipeline: Pipeline;
  let apiKey: string;
  const now = Date.now();

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { RECEIVER_REFLECTION: "true" } });
    const [device] = await pipeline.provision("ICU", 1);
    apiKey = device!.apiKey;
  });
  afterAll(() => pipeline?.stop());

  it("answers grpc.health.v1 and (RECEIVER_REFLECTION) server reflection, so buf curl works without proto files", async () => {
    const buf = (...args: string[]) =>
      promisify(execFile)(join(repoRoot, "node_modules/.bin/buf"), [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        ...args,
      ]);
    const base = `http://127.0.0.1:${pipeline.receiver.port}`;
    const methods = (await buf("--list-methods", base)).stdout.trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining(["grpc.health.v1.Health/Check", "vigil.ingest.v1.IngestService/Stream"]),
    );
    expect(JSON.parse((await buf(`${base}/grpc.health.v1.Health/Check`)).stdout)).toEqual({ status: "SERVING" });
  });

  it("welcomes a device with its limits and last durable seq", async () => {
    const s = openRawStream(pipeline.receiver.port, apiKey);
    s.hello();
    const welcome = await s.next();
    expect(welcome.kind.case).toBe("welcome");
    expect(welcome.kind.value).toMatchObject({
      device: "ICU-1",
      lastDurableSeq: 0n,
      limits: { maxBatchReadings: 10_000 },
    });
    s.close();
  });

  it("rejects bad batches with a reason while the stream keeps working", async () => {
    const s = openRawStream(pipeline.receiver.port, apiKey);
    s.hello();
    await s.next();
    const cases: Array<[string, () => void, RegExp]> = [
      [
        "NaN",
        () => s.batch(testBatch(1, [now - 2, now - 1], [1, Number.NaN])),
        /series\[0\]\.values\[1\]: value is not a finite number/,
      ],
      ["empty series", () => s.batch({ seq: 2, series: [] }), /batch has no series/],
      ["length mismatch", () => s.batch(testBatch(3, [now - 2, now - 1], [1])), /2 times but 1 values/],
      ["far future", () => s.batch(testBatch(4, [now + 10 * 365 * 86_400_000], [1])), /in the future/],
      ["garbage", () => s.bytes(new Uint8Array([0x12, 0x7f, 0x01])), /not a valid StreamRequest/],
    ];
    for (const [name, send, reason] of cases) {
      send();
      const r = await s.next();
      expect(r.kind.case, name).toBe("reject");
      if (r.kind.case !== "reject") continue;
      expect(r.kind.value.reason, name).toMatch(reason);
      expect(r.kind.value.code, name).not.toBe(RejectCode.UNSPECIFIED);
    }
    s.batch(testBatch(5, [now - 1000, now - 500], [36.6, 36.7]));
    const ack = await s.next();
    expect(ack.kind).toMatchObject({ case: "ack", value: { seq: 5n, duplicate: false } });
    // Within a stream seqs must increase.
    s.batch(testBatch(5, [now - 1000, now - 500], [36.6, 36.7]));
    const again = await s.next();
    expect(again.kind).toMatchObject({ case: "reject", value: { seq: 5n, code: RejectCode.BAD_SEQ } });
    s.end();
    expect((await s.status).code).toBe(status.OK);
  });

  it("refuses a missing, malformed or unknown key with Unauthenticated", async () => {
    for (const key of [undefined, "", "not-a-key", `vgl_aaaaaaaaaaaa_${"A".repeat(43)}`]) {
      const s = openRawStream(pipeline.receiver.port, key);
      s.hello();
      const result = await s.status;
      expect(result.code, String(key)).toBe(status.UNAUTHENTICATED);
      expect(result.details).toMatch(/x-api-key|invalid/);
    }
  });

  it("ends a stream that sends a batch before Hello with FailedPrecondition", async () => {
    const s = openRawStream(pipeline.receiver.port, apiKey);
    s.batch(testBatch(9, [now], [1]));
    const result = await s.status;
    expect(result.code).toBe(status.FAILED_PRECONDITION);
    expect(result.details).toMatch(/Hello/);
  });

  it("refuses a message over the size limit with ResourceExhausted and keeps serving others", async () => {
    const big = openRawStream(pipeline.receiver.port, apiKey);
    big.hello();
    await big.next();
    big.bytes(new Uint8Array(5 * 1024 * 1024));
    expect((await big.status).code).toBe(status.RESOURCE_EXHAUSTED);
    const ok = openRawStream(pipeline.receiver.port, apiKey);
    ok.hello();
    expect((await ok.next()).kind.case).toBe("welcome");
    ok.close();
  });
});

import { readFileSync } from "node:fs";
import { openApiDocumentUrl } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

interface Operation {
  security?: Array<Record<string, string[]>>;
  requestBody: { content: Record<string, unknown> };
}

/** What these tests read from an envelope's JSON. */
interface EnvelopeMessage {
  error?: { code: string; message: string };
  readings?: Array<Record<string, unknown>>;
}

/** One Connect streaming envelope: flags, big-endian length, JSON. */
function envelope(message: unknown, flags = 0): Buffer {
  const json = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

/** The envelopes of a Connect streaming response body, as they arrive. */
async function* envelopes(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ flags: number; message: EnvelopeMessage }> {
  let pending = Buffer.alloc(0);
  for await (const chunk of body) {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      yield { flags: pending[0]!, message: JSON.parse(pending.subarray(5, 5 + length).toString()) };
      pending = pending.subarray(5 + length);
    }
  }
}

async function lastEnvelope(body: ReadableStream<Uint8Array>) {
  let last: { flags: number; message: EnvelopeMessage } | undefined;
  for await (const e of envelopes(body)) last = e;
  return last;
}

describe("the OpenAPI document served by the query service (QUERY_API_DOCS)", () => {
  let pipeline: Pipeline;
  let base: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { QUERY_API_DOCS: "true" } });
    base = pipeline.queryUrl;
  });
  afterAll(() => pipeline?.stop());

  it("is served at GET /openapi.json without a token: JSON, cacheable, revalidated with 304", async () => {
    const res = await fetch(`${base}/openapi.json`, { headers: { origin: "https://docs.example" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(openApiDocumentUrl))).toBe(true);
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${base}/openapi.json`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    const head = await fetch(`${base}/openapi.json`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(10_000);
    expect((await fetch(`${base}/openapi.json`, { method: "POST" })).status).not.toBe(200);
  });

  it("documents every path the server answers and the token each one needs", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      security: unknown;
      paths: Record<string, { post: Operation }>;
    };
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const paths = Object.entries(doc.paths);
    expect(paths.length).toBeGreaterThanOrEqual(18);
    for (const [path, { post }] of paths) {
      const streaming = "application/connect+json" in post.requestBody.content;
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": streaming ? "application/connect+json" : "application/json" },
        body: streaming ? envelope({}) : "{}",
      });
      // A stream reports its error in its last envelope, with HTTP 200.
      const error = streaming
        ? (await lastEnvelope(res.body!))?.message.error
        : res.ok
          ? undefined
          : ((await res.json()) as EnvelopeMessage["error"]);
      const refusedForNoToken = error?.code === "unauthenticated" && /^sign in/.test(error.message);
      if (post.security === undefined) {
        expect(res.status, path).toBe(streaming ? 200 : 401);
        expect(refusedForNoToken, path).toBe(true);
      } else if (post.security.length === 0) {
        // Public: whatever the answer to an empty request, it is not "sign in", and the method exists.
        expect(refusedForNoToken, path).toBe(false);
        expect(error?.code, path).not.toBe("unimplemented");
      } else {
        // Register: a token is optional in the document; without open registration the server wants one.
        expect(post.security, path).toEqual([{}, { bearerAuth: [] }]);
        expect(refusedForNoToken, path).toBe(true);
      }
    }
  });

  it("answers the documented GET form of methods without side effects", async () => {
    const message = encodeURIComponent(JSON.stringify({ filter: { deviceCode: "NONE" }, pageSize: 1 }));
    const res = await fetch(
      `${base}/vigil.readings.v1.ReadingService/ListReadings?connect=v1&encoding=json&message=${message}`,
      { headers: { authorization: `Bearer ${await pipeline.adminToken()}` } },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
  });

  it("streams WatchReadings as enveloped application/connect+json", async () => {
    const [device] = await pipeline.provision("OAPI", 1);
    const abort = new AbortController();
    const response = fetch(`${base}/vigil.readings.v1.ReadingService/WatchReadings`, {
      method: "POST",
      headers: {
        "content-type": "application/connect+json",
        "connect-protocol-version": "1",
        authorization: `Bearer ${await pipeline.adminToken()}`,
      },
      body: envelope({ filter: { deviceCode: "OAPI" } }),
      signal: abort.signal,
    });
    const first = response.then(async (res) => {
      for await (const e of envelopes(res.body!)) return e;
      return undefined;
    });
    const stream = openRawStream(pipeline.receiver.port, device!.apiKey);
    stream.hello();
    await stream.next();
    // Send until the watch, subscribed at some point after the request, sees a batch.
    let received: Awaited<typeof first>;
    for (let seq = 1; !received; seq++) {
      stream.batch(testBatch(seq, [Date.now()], [36.6], "body.temperature_c"));
      await stream.next();
      received = await Promise.race([first, new Promise<undefined>((r) => setTimeout(() => r(undefined), 200))]);
    }
    stream.close();
    abort.abort();
    expect((await response).headers.get("content-type")).toBe("application/connect+json");
    expect(received!.flags).toBe(0);
    expect(received!.message.readings?.[0]).toMatchObject({
      deviceCode: "OAPI",
      deviceNumber: 1,
      sensor: "body.temperature_c",
      value: 36.6,
      seq: expect.stringMatching(/^\d+$/),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT.+Z$/),
    });
  });

  it("says what the server does with an unknown field, and the server does it: refuses it, naming the field", async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { info: { description: string } };
    expect(doc.info.description).toContain("Unknown fields in a request are refused with `invalid_argument`");
    expect(doc.info.description).not.toMatch(/ignore unknown fields/i);
    const res = await fetch(`${base}/vigil.readings.v1.ReadingService/DeleteReadings`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await pipeline.adminToken()}` },
      body: JSON.stringify({ filter: { deviceCode: "OR", sensr: "arm.x" } }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("sensr") });
  });
});

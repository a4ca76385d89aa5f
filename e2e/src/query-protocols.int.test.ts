import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Order, ReadingService } from "@vigil/proto";
import { repoRoot } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { openRawStream, testBatch } from "./raw-stream.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("query service protocols", () => {
  let pipeline: Pipeline;
  let base: string;
  const now = Date.now();

  beforeAll(async () => {
    pipeline = await startTestPipeline({ env: { QUERY_REFLECTION: "true" } });
    base = `http://127.0.0.1:${pipeline.query.port}`;
    const [device] = await pipeline.provision("ENV", 1);
    const s = openRawStream(pipeline.receiver.port, device!.apiKey);
    s.hello();
    await s.next();
    s.batch(testBatch(1, [now - 3000, now - 2000, now - 1000], [20.5, 20.6, 20.7], "room.temperature_c"));
    await s.next();
    s.close();
    while (pipeline.writer.stats.inserted < 3) await new Promise((r) => setTimeout(r, 20));
    token = await pipeline.adminToken();
  });
  afterAll(() => pipeline?.stop());

  let token = "";
  const bearer: Interceptor = (next) => async (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const interceptors = [bearer];
  const transports = {
    "gRPC over h2c": () => createGrpcTransport({ baseUrl: base, interceptors }),
    "gRPC-Web over HTTP/1.1": () => createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", interceptors }),
    "Connect over h2c": () => createConnectTransport({ baseUrl: base, httpVersion: "2", interceptors }),
    "Connect-JSON over HTTP/1.1": () =>
      createConnectTransport({ baseUrl: base, httpVersion: "1.1", useBinaryFormat: false, interceptors }),
  };

  for (const [name, transport] of Object.entries(transports)) {
    it(`lists readings with ${name}`, async () => {
      const client = createClient(ReadingService, transport());
      const res = await client.listReadings({ filter: { deviceCode: "ENV" }, order: Order.NEWEST_FIRST, pageSize: 2 });
      expect(res.totalSize).toBe(3n);
      expect(res.readings.map((r) => r.value)).toEqual([20.7, 20.6]);
      expect(res.nextPageToken).not.toBe("");
      const rest = await client.listReadings({
        filter: { deviceCode: "ENV" },
        order: Order.NEWEST_FIRST,
        pageSize: 2,
        pageToken: res.nextPageToken,
      });
      expect(rest.readings.map((r) => r.value)).toEqual([20.5]);
      expect(rest.nextPageToken).toBe("");
    });

    it(`answers a bad request with InvalidArgument naming the field over ${name}`, async () => {
      const client = createClient(ReadingService, transport());
      const err = await client.listReadings({ pageSize: 5000 }).catch((e) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toMatch(/^page_size: must be between 0 and 1000/);
    });
  }

  it("answers malformed JSON, unknown fields, bad tokens and unknown methods with clear errors", async () => {
    const post = (path: string, body: string) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body,
      });
    const list = "/vigil.readings.v1.ReadingService/ListReadings";
    const cases: Array<[string, string, number, string, RegExp]> = [
      ["malformed JSON", list, 400, "{", /invalid_argument/],
      ["wrong type", list, 400, '{"pageSize":"many"}', /invalid_argument/],
      ["bad token", list, 400, '{"pageToken":"garbage"}', /page_token/],
      [
        "start after end",
        list,
        400,
        '{"filter":{"startTime":"2026-01-02T00:00:00Z","endTime":"2026-01-01T00:00:00Z"}}',
        /start_time/,
      ],
      [
        "misspelt field",
        "/vigil.readings.v1.ReadingService/DeleteReadings",
        400,
        '{"filter":{"deviceCode":"ENV","sensr":"x"}}',
        /sensr/,
      ],
      ["SQL in a filter", list, 400, `{"filter":{"deviceCode":"ENV' OR 1=1 --"}}`, /device_code/],
      ["unknown method", "/vigil.readings.v1.ReadingService/Nope", 404, "{}", /.*/],
      ["unknown bucket", "/vigil.readings.v1.ReadingService/GetStats", 400, '{"bucket":"1y"}', /bucket/],
    ];
    for (const [name, path, status, body, pattern] of cases) {
      const res = await post(path, body);
      expect(res.status, name).toBe(status);
      expect(await res.text(), name).toMatch(pattern);
    }
  });

  it("answers grpc.health.v1 and (QUERY_REFLECTION) server reflection on its port, so buf curl needs no proto files", async () => {
    const buf = (...args: string[]) =>
      promisify(execFile)(join(repoRoot, "node_modules/.bin/buf"), [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        ...args,
      ]);
    const methods = (await buf("--list-methods", base)).stdout.trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining([
        "grpc.health.v1.Health/Check",
        "vigil.readings.v1.ReadingService/ListReadings",
        "vigil.auth.v1.AuthService/Login",
      ]),
    );
    expect(JSON.parse((await buf(`${base}/grpc.health.v1.Health/Check`)).stdout)).toEqual({ status: "SERVING" });
    const listed = await buf(
      "-H",
      `authorization: Bearer ${token}`,
      "-d",
      '{"pageSize": 1}',
      `${base}/vigil.readings.v1.ReadingService/ListReadings`,
    );
    expect(JSON.parse(listed.stdout)).toMatchObject({ totalSize: "3", readings: [{ deviceCode: "ENV" }] });
  });

  it("serves health and readiness, and no CORS to other origins by default", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: "ok" });
    const preflight = await fetch(`${base}/vigil.readings.v1.ReadingService/ListReadings`, {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    // No origin is allowed by default (QUERY_CORS_ORIGINS): the browser gets no CORS header.
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
  });
});

import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { reflection } from "@vigil/proto";
import { loadQueryConfig } from "@vigil/query";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

describe("what the query and receiver ports expose", () => {
  let pipeline: Pipeline;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(() => pipeline?.stop());

  /** A browser's preflight, then its call, from `origin`: the CORS headers each got. */
  async function fromPage(base: string, origin: string) {
    const path = `${base}/vigil.auth.v1.AuthService/Login`;
    const preflight = await fetch(path, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    const call = await fetch(path, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({ username: "nobody", password: "wrong-password-1" }),
    });
    return {
      preflight: preflight.headers.get("access-control-allow-origin"),
      allowsAuthorization: /authorization/i.test(preflight.headers.get("access-control-allow-headers") ?? ""),
      call: call.headers.get("access-control-allow-origin"),
    };
  }

  it("item 10: by default no other origin may call the API from a browser", async () => {
    expect(await fromPage(pipeline.queryUrl, "https://evil.example")).toEqual({
      preflight: null,
      allowsAuthorization: false,
      call: null,
    });
  });

  it("item 10: only the origins listed in QUERY_CORS_ORIGINS, each by name, never '*'", async () => {
    const query = await pipeline.startQuery({ QUERY_CORS_ORIGINS: "https://console.example" });
    const base = `http://127.0.0.1:${query.port}`;
    expect(await fromPage(base, "https://console.example")).toEqual({
      preflight: "https://console.example",
      allowsAuthorization: true,
      call: "https://console.example",
    });
    expect(await fromPage(base, "https://evil.example")).toEqual({
      preflight: null,
      allowsAuthorization: false,
      call: null,
    });
    expect(() => loadQueryConfig({ QUERY_CORS_ORIGINS: "*" })).toThrow(/QUERY_CORS_ORIGINS/);
    expect(() => loadQueryConfig({ QUERY_CORS_ORIGINS: "https://a.example/path" })).toThrow(/no path/);
  });

  it("item 11: /metrics is served on the query service's ops port, not on its API port", async () => {
    expect((await fetch(`${pipeline.queryUrl}/metrics`)).status).toBe(404);
    const metrics = await fetch(`http://127.0.0.1:${pipeline.query.opsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^vigil_query_requests_total/m);
    // Up or down stays on the API port too, for load balancers that check the port they use.
    expect((await fetch(`${pipeline.queryUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${pipeline.query.opsPort}/readyz`)).status).toBe(200);
  });

  it("item 11: gRPC reflection is off on the query and receiver ports unless QUERY_REFLECTION / RECEIVER_REFLECTION", async () => {
    const listServices = async (port: number) => {
      const client = createClient(
        reflection.ServerReflection,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
      );
      try {
        for await (const res of client.serverReflectionInfo(
          (async function* () {
            yield { host: "", messageRequest: { case: "listServices" as const, value: "" } };
          })(),
        )) {
          return res.messageResponse.case === "listServicesResponse"
            ? res.messageResponse.value.service.map((s) => s.name)
            : [];
        }
        return [];
      } catch (err) {
        return ConnectError.from(err).code;
      }
    };
    expect(await listServices(pipeline.query.port)).toBe(Code.Unimplemented);
    expect(await listServices(pipeline.receiver.port)).toBe(Code.Unimplemented);
    const query = await pipeline.startQuery({ QUERY_REFLECTION: "true" });
    expect(await listServices(query.port)).toEqual(expect.arrayContaining(["vigil.readings.v1.ReadingService"]));
  });

  it("item 11: /openapi.json is served only with QUERY_API_DOCS", async () => {
    expect((await fetch(`${pipeline.queryUrl}/openapi.json`)).status).toBe(404);
    const query = await pipeline.startQuery({ QUERY_API_DOCS: "true" });
    const docs = await fetch(`http://127.0.0.1:${query.port}/openapi.json`);
    expect(docs.status).toBe(200);
    expect(await docs.json()).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
  });
});

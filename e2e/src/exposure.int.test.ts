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
});

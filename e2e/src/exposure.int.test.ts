import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { reflection } from "@vigil/proto";
import { loadQueryConfig } from "@vigil/query";
import { createQuickstartApp, loadQuickstartConfig } from "@vigil/quickstart";
import { createLogger } from "@vigil/runtime";
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
    // The API port has no metrics (where the console is built, /metrics is one of its pages).
    expect(await (await fetch(`${pipeline.queryUrl}/metrics`)).text()).not.toMatch(/vigil_query_requests_total/);
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

  it("item 11: /openapi.json and the API reference page are served only with QUERY_API_DOCS", async () => {
    expect((await fetch(`${pipeline.queryUrl}/openapi.json`)).status).toBe(404);
    expect((await fetch(`${pipeline.queryUrl}/api-docs/swagger-ui-bundle.js`)).status).toBe(404);
    const query = await pipeline.startQuery({ QUERY_API_DOCS: "true" });
    const docs = await fetch(`http://127.0.0.1:${query.port}/openapi.json`);
    expect(docs.status).toBe(200);
    expect(await docs.json()).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
    expect((await fetch(`http://127.0.0.1:${query.port}/api-docs/swagger-ui-bundle.js`)).status).toBe(200);
  });
});

/** The local addresses sockets listen on at `port` (Linux: /proc/net/tcp and tcp6). */
function listeningOn(port: number): string[] {
  const out: string[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== "0A") continue; // 0A: LISTEN
      const [hex, portHex] = local.split(":");
      if (Number.parseInt(portHex!, 16) !== port) continue;
      out.push(
        hex!.length === 8
          ? (hex!.match(/../g) ?? [])
              .reverse()
              .map((b) => Number.parseInt(b, 16))
              .join(".")
          : hex === "00000000000000000000000000000000"
            ? "::"
            : `ipv6:${hex}`,
      );
    }
  }
  return out;
}

describe("the quick start", () => {
  it("item 15: listens on 127.0.0.1 only, unless QUICKSTART_HOST opens it", async () => {
    const state = mkdtempSync(join(tmpdir(), "vigil-quickstart-"));
    const lines: string[] = [];
    const app = createQuickstartApp(
      loadQuickstartConfig({ DATABASE_URL: "embedded:memory", QUICKSTART_DEVICES: "0", QUICKSTART_STATE_DIR: state }),
      {
        logger: createLogger({ name: "quickstart", level: "warn" }),
        env: { RECEIVER_PORT: "0", QUERY_PORT: "0", QUERY_OPS_PORT: "0", ARCHIVE_URL: `file:${state}/archive` },
        print: (line) => lines.push(line),
      },
    );
    try {
      await app.start();
      for (const port of [app.receiver!.port, app.query!.port, app.query!.opsPort]) {
        expect(listeningOn(port), `port ${port}`).toEqual(["127.0.0.1"]);
      }
      expect(lines.join("\n")).not.toMatch(/Listening beyond this machine/);
    } finally {
      await app.stop();
      rmSync(state, { recursive: true, force: true });
    }
    expect(loadQuickstartConfig({}).QUICKSTART_HOST).toBe("127.0.0.1");
    expect(loadQuickstartConfig({ QUICKSTART_HOST: "0.0.0.0" }).QUICKSTART_HOST).toBe("0.0.0.0");
  });
});

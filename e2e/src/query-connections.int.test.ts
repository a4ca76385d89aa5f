import http2 from "node:http2";
import net from "node:net";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { health } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const HEADERS_TIMEOUT_MS = 600;
const REQUEST_TIMEOUT_MS = 1_500;
const IDLE_TIMEOUT_MS = 1_000;

/** A raw TCP connection to the query port: what it received and when it was closed. */
function rawConnection(port: number) {
  const socket = net.connect(port, "127.0.0.1");
  const opened = performance.now();
  let received = "";
  socket.on("data", (d) => {
    received += d.toString();
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.on("close", () => resolve(performance.now() - opened)));
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed, connected, received: () => received };
}

/** Resolves with the time it took, or with "open" when the connection outlived `ms`. */
function closedWithin(closed: Promise<number>, ms: number): Promise<number | "open"> {
  return Promise.race([closed, new Promise<"open">((r) => setTimeout(() => r("open"), ms))]);
}

const HEALTH_CHECK =
  "POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

describe("query port connections", () => {
  let pipeline: Pipeline;
  let port: number;

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      env: {
        QUERY_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        QUERY_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        QUERY_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
      },
    });
    port = pipeline.query.port;
  });
  afterAll(() => pipeline?.stop());

  it("item 8: a connection that sends partial headers is closed after QUERY_HEADERS_TIMEOUT_MS (408)", async () => {
    const c = rawConnection(port);
    await c.connected;
    c.socket.write("POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n");
    const after = await closedWithin(c.closed, HEADERS_TIMEOUT_MS + 3_000);
    expect(after).not.toBe("open");
    expect(after).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it("item 8: a connection that sends nothing at all is closed after the headers timeout", async () => {
    const c = rawConnection(port);
    const after = await closedWithin(c.closed, HEADERS_TIMEOUT_MS + 3_000);
    expect(after).not.toBe("open");
    expect(after).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
  });

  it("item 8: an HTTP/1.1 request whose body never ends is cut after QUERY_REQUEST_TIMEOUT_MS", async () => {
    const c = rawConnection(port);
    await c.connected;
    c.socket.write(
      "POST /vigil.auth.v1.AuthService/Login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    );
    const drip = setInterval(() => c.socket.write(" "), 200);
    const after = await closedWithin(c.closed, REQUEST_TIMEOUT_MS + 3_000);
    clearInterval(drip);
    expect(after).not.toBe("open");
    expect(after).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  });

  it("item 8: an idle HTTP/1.1 keep-alive connection is closed after QUERY_IDLE_TIMEOUT_MS", async () => {
    const c = rawConnection(port);
    await c.connected;
    c.socket.write(HEALTH_CHECK);
    const after = await closedWithin(c.closed, IDLE_TIMEOUT_MS + 3_000);
    expect(c.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(after).not.toBe("open");
  });

  it("item 8: an HTTP/2 connection that stops after the preface, or idles without streams, gets GOAWAY and is closed", async () => {
    const c = rawConnection(port);
    await c.connected;
    c.socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    expect(await closedWithin(c.closed, IDLE_TIMEOUT_MS + 3_000)).not.toBe("open");

    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    const started = performance.now();
    await goaway;
    await closed;
    expect(performance.now() - started).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 50);
  });

  it("item 8: an HTTP/2 stream whose request body never ends is reset after QUERY_REQUEST_TIMEOUT_MS", async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    const stream = session.request({
      ":method": "POST",
      ":path": "/vigil.auth.v1.AuthService/Login",
      "content-type": "application/json",
    });
    stream.on("error", () => {});
    stream.write("{");
    const started = performance.now();
    const code = await Promise.race([
      new Promise<number>((resolve) => stream.on("close", () => resolve(stream.rstCode))),
      new Promise<"open">((r) => setTimeout(() => r("open"), REQUEST_TIMEOUT_MS + 3_000)),
    ]);
    expect(code).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(performance.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    session.close();
  });

  it("item 8: a complete request may keep its response open longer than every timeout (watches)", async () => {
    const client = createClient(
      health.Health,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }),
    );
    const abort = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      for await (const res of client.watch({ service: "" }, { signal: abort.signal })) seen.push(res.status);
    })().catch((err) => err);
    await new Promise((r) => setTimeout(r, REQUEST_TIMEOUT_MS + IDLE_TIMEOUT_MS + 500));
    abort.abort();
    const outcome = await watching;
    expect(seen).toEqual([health.HealthCheckResponse_ServingStatus.SERVING]);
    expect(String(outcome)).toMatch(/abort|cancel/i);
  });
});

describe("query port connection cap", () => {
  let pipeline: Pipeline;
  beforeAll(async () => {
    pipeline = await startTestPipeline();
  });
  afterAll(() => pipeline?.stop());

  async function held(port: number) {
    const c = rawConnection(port);
    await c.connected;
    c.socket.write(HEALTH_CHECK);
    const answered = await Promise.race([
      new Promise<boolean>((resolve) => c.socket.once("data", () => resolve(true))),
      c.closed.then(() => false),
    ]);
    return { ...c, answered };
  }

  it("item 8: one client address holds at most QUERY_MAX_CONNECTIONS_PER_ADDRESS connections", async () => {
    const query = await pipeline.startQuery({ QUERY_MAX_CONNECTIONS_PER_ADDRESS: "3" });
    const open = [await held(query.port), await held(query.port), await held(query.port)];
    expect(open.map((c) => c.answered)).toEqual([true, true, true]);
    const refused = await held(query.port);
    expect(refused.answered).toBe(false);
    expect(refused.received()).toBe("");
    open[0]!.socket.destroy();
    await open[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    const again = await held(query.port);
    expect(again.answered).toBe(true);
    for (const c of [...open, again]) c.socket.destroy();
  });

  it("item 8: a trusted proxy is not held to the per-address cap (it carries many clients)", async () => {
    const query = await pipeline.startQuery({
      QUERY_MAX_CONNECTIONS_PER_ADDRESS: "2",
      QUERY_TRUSTED_PROXIES: "127.0.0.0/8",
    });
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await held(query.port));
    expect(open.map((c) => c.answered)).toEqual([true, true, true, true, true]);
    for (const c of open) c.socket.destroy();
  });
});

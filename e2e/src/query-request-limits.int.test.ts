import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { gzipSync } from "node:zlib";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ReadingService } from "@vigil/proto";
import { freePort, type ServiceProcess, startServiceProcess } from "@vigil/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

const MB = 1024 * 1024;
/** "A few MB": what the issue allows a refused request to cost the server. */
const MAX_GROWTH_MB = 8;

/** Resident and peak resident memory of a process, from /proc. */
function memory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

/** The peak RSS growth of `pid` while `work` runs (the kernel's high-water mark, reset first). */
async function peakGrowthMb(pid: number, work: () => Promise<void>): Promise<number> {
  writeFileSync(`/proc/${pid}/clear_refs`, "5"); // resets VmHWM to the current RSS
  const before = memory(pid).rssMb;
  await work();
  await new Promise((r) => setTimeout(r, 300));
  return memory(pid).peakMb - before;
}

/**
 * POSTs a JSON body of `size` bytes (declared, or chunked without a length)
 * over a raw connection, as an attacker's client would, and returns the
 * answer: the server may answer and close before the body is sent.
 */
function postLarge(
  url: string,
  size: number,
  options: { chunked?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let received = "";
    let ended = false;
    let sent = 0;
    const finish = () => {
      if (ended) return;
      ended = true;
      socket.destroy();
      const [head = "", ...rest] = received.split("\r\n\r\n");
      let body = rest.join("\r\n\r\n");
      if (/transfer-encoding: chunked/i.test(head))
        body = body.replace(/^[0-9a-f]+\r\n/i, "").replace(/\r\n0\r\n\r\n$/, "");
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), body });
    };
    socket.on("data", (d) => {
      received += d;
      const length = /content-length: (\d+)/i.exec(received)?.[1];
      const bodyAt = received.indexOf("\r\n\r\n");
      if (length && bodyAt >= 0 && received.length >= bodyAt + 4 + Number(length)) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    socket.on("connect", () => {
      const length = options.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${size}`;
      socket.write(`POST ${pathname} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${length}\r\n\r\n`);
      const open = Buffer.from('{"username": "admin", "password": "x"');
      const filler = Buffer.alloc(64 * 1024, 0x20);
      const send = (bytes: Buffer) => {
        sent += bytes.length;
        return socket.write(
          options.chunked
            ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from("\r\n")])
            : bytes,
        );
      };
      // Like curl, stop sending once an answer comes (an early answer is the server refusing the rest).
      const pump = () => {
        if (ended || received) return;
        if (sent >= size - 1) {
          send(Buffer.from("}"));
          if (options.chunked) socket.write("0\r\n\r\n");
          return;
        }
        const more = send(filler.subarray(0, Math.min(filler.length, size - 1 - sent)));
        if (more) setImmediate(pump);
        else socket.once("drain", pump);
      };
      send(open);
      pump();
    });
  });
}

describe("request size limits on the query port", () => {
  let pipeline: Pipeline;
  let query: ServiceProcess;
  let base: string;
  let token: string;

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    query = await startServiceProcess(
      "services/query/src/main.ts",
      {
        DATABASE_URL: pipeline.databaseUrl,
        NATS_URL: pipeline.natsUrl,
        QUERY_HOST: "127.0.0.1",
        QUERY_PORT: String(port),
        QUERY_OPS_PORT: "0",
        LOG_LEVEL: "info",
      },
      /query service listening/,
    );
    const login = await fetch(`${base}/vigil.auth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    token = ((await login.json()) as { tokens: { accessToken: string } }).tokens.accessToken;
    // Warm up: the first calls load code and fill pools.
    for (let i = 0; i < 20; i++) {
      await fetch(`${base}/vigil.readings.v1.ReadingService/ListReadings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
      });
    }
  });
  afterAll(async () => {
    await query?.stop();
    await pipeline?.stop();
  });

  it("item 1: a 50 MB Login body is refused with 413 resource_exhausted, unread, and RSS grows by a few MB at most", async () => {
    const login = `${base}/vigil.auth.v1.AuthService/Login`;
    let declared: { status: number; body: string } | undefined;
    let chunked: { status: number; body: string } | undefined;
    const growth = await peakGrowthMb(query.child.pid!, async () => {
      declared = await postLarge(login, 50 * MB);
      chunked = await postLarge(login, 50 * MB, { chunked: true });
    });
    for (const answer of [declared!, chunked!]) {
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({ code: "resource_exhausted" });
    }
    expect(growth).toBeLessThan(MAX_GROWTH_MB);
  });

  it("item 1: a 200 KB gzip body that expands to 200 MB is never read without a token, and stops at the limit with one", async () => {
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('{"pageSize": 1'), Buffer.alloc(200 * MB, 0x20), Buffer.from("}")]),
    );
    expect(bomb.length).toBeLessThan(300 * 1024);
    const send = (authorization?: string) =>
      fetch(`${base}/vigil.readings.v1.ReadingService/ListReadings`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-encoding": "gzip",
          ...(authorization ? { authorization } : {}),
        },
        body: bomb,
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as { code: string; message: string } }));
    let anonymous: Awaited<ReturnType<typeof send>> | undefined;
    let signedIn: Awaited<ReturnType<typeof send>> | undefined;
    const growth = await peakGrowthMb(query.child.pid!, async () => {
      anonymous = await send();
      signedIn = await send(`Bearer ${token}`);
    });
    expect(anonymous).toMatchObject({ status: 401, body: { code: "unauthenticated" } });
    expect(signedIn).toMatchObject({ status: 413, body: { code: "resource_exhausted" } });
    expect(signedIn!.body.message).toMatch(/1048576/);
    expect(growth).toBeLessThan(MAX_GROWTH_MB);
  });

  it("item 1: gRPC clients get RESOURCE_EXHAUSTED for a message over the limit", async () => {
    const client = createClient(ReadingService, createGrpcTransport({ baseUrl: base }));
    const err = await client
      .listReadings({ filter: { sensor: "x".repeat(2 * MB) } }, { headers: { authorization: `Bearer ${token}` } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
  });

  it("item 1: methods anyone may call take 8 KiB; signed-in methods take 1 MiB", async () => {
    const login = await postLarge(`${base}/vigil.auth.v1.AuthService/Login`, 9 * 1024);
    expect(login.status).toBe(413);
    const list = await fetch(`${base}/vigil.readings.v1.ReadingService/ListReadings`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: `{"pageSize": 1${" ".repeat(100 * 1024)}}`,
    });
    expect(list.status).toBe(200);
  });

  it("item 1: a username or password no account can have is refused without becoming a limiter key", async () => {
    const res = await fetch(`${base}/vigil.auth.v1.AuthService/Login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "u".repeat(5000), password: "p".repeat(2000) }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ message: "invalid username or password" });
  });
});

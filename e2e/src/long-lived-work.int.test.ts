import type http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { sql } from "@vigil/db";
import { health, ReadingService } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pipeline } from "./pipeline.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/** Opens a server stream and reports how it ended: "open" while it still runs after `ms`. */
async function outcome(stream: AsyncIterable<unknown>, ms = 400): Promise<"open" | Code | "ended"> {
  const done = (async () => {
    for await (const _ of stream);
    return "ended" as const;
  })().catch((err) => ConnectError.from(err).code);
  return Promise.race([done, new Promise<"open">((r) => setTimeout(() => r("open"), ms))]);
}

describe("caps on long-lived work", () => {
  let pipeline: Pipeline;
  const aborts: AbortController[] = [];
  const signal = () => {
    const a = new AbortController();
    aborts.push(a);
    return a.signal;
  };

  beforeAll(async () => {
    pipeline = await startTestPipeline({
      env: {
        QUERY_MAX_WATCHES_PER_USER: "2",
        QUERY_MAX_HEALTH_WATCHES_PER_ADDRESS: "2",
        QUERY_MAX_HEALTH_WATCHES: "3",
      },
    });
  });
  afterAll(async () => {
    for (const a of aborts) a.abort();
    await pipeline?.stop();
  });

  const transport = (token?: string, localAddress = "127.0.0.1") =>
    createConnectTransport({
      baseUrl: pipeline.queryUrl,
      httpVersion: "2",
      // Passed on to net.connect: the client's address as the server sees it.
      nodeOptions: { localAddress } as http2.ClientSessionOptions,
      interceptors: token
        ? [
            (next) => async (req) => {
              req.header.set("authorization", `Bearer ${token}`);
              return next(req);
            },
          ]
        : [],
    });

  it("item 9: one user holds at most QUERY_MAX_WATCHES_PER_USER WatchReadings at once", async () => {
    const alice = createClient(ReadingService, transport(await pipeline.userToken("alice")));
    const bob = createClient(ReadingService, transport(await pipeline.userToken("bob")));
    const first = alice.watchReadings({ filter: { deviceCode: "W" } }, { signal: signal() });
    const second = alice.watchReadings({ filter: { deviceCode: "W" } }, { signal: signal() });
    expect(await outcome(first)).toBe("open");
    expect(await outcome(second)).toBe("open");
    const third = await alice
      .watchReadings({ filter: { deviceCode: "W" } }, { signal: signal() })
      [Symbol.asyncIterator]()
      .next()
      .catch((e) => e);
    expect(third).toBeInstanceOf(ConnectError);
    expect((third as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((third as ConnectError).rawMessage).toMatch(/at most 2 WatchReadings/);
    // Per user: someone else may still watch; and a closed watch frees its slot.
    expect(await outcome(bob.watchReadings({ filter: {} }, { signal: signal() }))).toBe("open");
    aborts[0]!.abort();
    await new Promise((r) => setTimeout(r, 200));
    expect(await outcome(alice.watchReadings({ filter: {} }, { signal: signal() }))).toBe("open");
  });

  it("item 9: anonymous health watches are capped per client address and in all", async () => {
    const watch = (from: string) =>
      outcome(createClient(health.Health, transport(undefined, from)).watch({ service: "" }, { signal: signal() }));
    expect(await watch("127.0.0.2")).toBe("open");
    expect(await watch("127.0.0.2")).toBe("open");
    expect(await watch("127.0.0.2")).toBe(Code.ResourceExhausted);
    expect(await watch("127.0.0.3")).toBe("open");
    expect(await watch("127.0.0.4")).toBe(Code.ResourceExhausted);
  });

  it("item 9: a statement that runs past QUERY_STATEMENT_TIMEOUT_MS is cancelled with DeadlineExceeded", async () => {
    const query = await pipeline.startQuery({ QUERY_STATEMENT_TIMEOUT_MS: "500" });
    const token = await pipeline.adminToken();
    const started = performance.now();
    // Hold readings locked, as a long scan or a stuck migration would, while the call runs.
    const answer = await pipeline.database.db.transaction().execute(async (tx) => {
      await sql`LOCK TABLE readings IN ACCESS EXCLUSIVE MODE`.execute(tx);
      const res = await fetch(`http://127.0.0.1:${query.port}/vigil.readings.v1.ReadingService/ListReadings`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: "{}",
        signal: AbortSignal.timeout(10_000),
      }).catch((err) => ({ status: 0, json: async () => ({ error: String(err) }) }));
      return { status: res.status, body: await res.json() };
    });
    expect(answer).toMatchObject({ status: 504, body: { code: "deadline_exceeded" } });
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

import { connect as netConnect, type Socket } from "node:net";
import { createGzip } from "node:zlib";
import { encodeReadingBatch, sampleBatchBytes } from "@vigil/proto";
import { batchRequest, type HostileStream, openHostileStream } from "./abuse-device.ts";
import { MiB } from "./process-stats.ts";

/** What an attack needs: where the servers are and the keys of the devices it may use. */
export interface AttackTarget {
  receiver: string;
  queryUrl: string;
  /** API keys of devices reserved for the attack (a compromised device's). */
  deviceKeys: string[];
}

/** What an attack did, for the report (counts by outcome). */
export type AttackOutcome = Record<string, number>;

/**
 * One finding of issue 12: prepares its payloads (before the phase, so the
 * bench's own work does not count), then replays it against a running stack
 * until `untilMs`; `signal` aborts what is still in flight then.
 */
export type Attack = (
  target: AttackTarget,
) => Promise<(untilMs: number, signal: AbortSignal) => Promise<AttackOutcome>>;

/**
 * Item 1: oversized request bodies on the query port, before any token is
 * checked: a 50 MB Login body, and a 200 KB gzip body that inflates to
 * 200 MB sent to ListReadings. Two of each at a time, over and over.
 */
export const oversizedRequests: Attack = async (target) => {
  const login = Buffer.concat([Buffer.from('{"username":"'), Buffer.alloc(50 * MiB, 0x61), Buffer.from('"}')]);
  const bomb = await gzipOfSpaces(200 * MiB);
  return async (untilMs, signal) => {
    const outcome: AttackOutcome = { requests: 0, bomb_bytes: bomb.length };
    const post = async (path: string, body: Buffer, headers: Record<string, string>) => {
      try {
        const res = await fetch(`${target.queryUrl}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body,
          signal,
        });
        await res.arrayBuffer().catch(() => undefined);
        outcome[`status_${res.status}`] = (outcome[`status_${res.status}`] ?? 0) + 1;
      } catch {
        outcome.failed = (outcome.failed ?? 0) + 1;
      }
      outcome.requests = (outcome.requests ?? 0) + 1;
    };
    while (Date.now() < untilMs && !signal.aborted) {
      await Promise.all([
        post("/vigil.auth.v1.AuthService/Login", login, {}),
        post("/vigil.auth.v1.AuthService/Login", login, {}),
        post("/vigil.readings.v1.ReadingService/ListReadings", bomb, { "content-encoding": "gzip" }),
        post("/vigil.readings.v1.ReadingService/ListReadings", bomb, { "content-encoding": "gzip" }),
      ]);
    }
    return outcome;
  };
};

/** A gzip stream of `size` JSON whitespace bytes (valid, and compressing about 1000:1). */
async function gzipOfSpaces(size: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on("end", () => resolve());
    gzip.on("error", reject);
  });
  const block = Buffer.alloc(MiB, 0x20);
  for (let written = 0; written < size; written += block.length) {
    if (!gzip.write(block)) await new Promise((r) => gzip.once("drain", r));
  }
  gzip.end(Buffer.from("{}"));
  await done;
  return Buffer.concat(chunks);
}

/**
 * Item 2: batches of about 4 MiB whose every reading is its own packed
 * chunk (legal protobuf that made decoding quadratic), from a few devices at
 * once, each waiting for its answer before sending the next.
 */
export const quadraticBatches: Attack = async (target) => {
  const message = batchRequest(
    sampleBatchBytes({ bytes: 4 * MiB - 1024, encoding: "chunked", seq: 1, startMs: Date.now() - 3_600_000 }),
  );
  return async (untilMs, signal) => {
    const outcome: AttackOutcome = { sent: 0, answered: 0, unanswered: 0, max_answer_ms: 0 };
    outcome.message_bytes = message.length;
    await Promise.all(
      target.deviceKeys.slice(0, 3).map(async (key) => {
        while (Date.now() < untilMs) {
          const stream = await openHostileStream(target.receiver, key);
          if (!stream) break;
          signal.addEventListener("abort", () => stream.close(), { once: true });
          while (Date.now() < untilMs) {
            const started = performance.now();
            stream.send(message);
            outcome.sent!++;
            const answer = await stream.next(Math.max(1, untilMs - Date.now()));
            if (!answer) {
              outcome.unanswered!++;
              break;
            }
            outcome.answered!++;
            outcome.max_answer_ms = Math.max(outcome.max_answer_ms!, Math.round(performance.now() - started));
          }
          stream.close();
        }
      }),
    );
    return outcome;
  };
};

/**
 * Item 5: dead-letter flooding. Devices send batches the receiver rejects,
 * as fast as it answers: 4 MiB ones over the reading limit, ones with NaN
 * values, empty ones, and resends of an old seq; when a stream is closed
 * for its rejects they reconnect at once.
 */
export const deadLetterFlood: Attack = async (target) => {
  const now = Date.now();
  const oversized = batchRequest(
    sampleBatchBytes({ bytes: 4 * MiB - 1024, encoding: "packed", series: 4, startMs: now - 3_600_000 }),
  );
  const times = Array.from({ length: 5_000 }, (_, i) => now - 600_000 + i);
  const nan = (seq: number) =>
    batchRequest(
      encodeReadingBatch({
        seq,
        series: [
          {
            sensor: "flood.x",
            times: Float64Array.from(times),
            values: new Float64Array(times.length).fill(Number.NaN),
          },
        ],
      }),
    );
  const empty = (seq: number) => batchRequest(encodeReadingBatch({ seq, series: [] }));
  return async (untilMs, signal) => {
    const outcome: AttackOutcome = { sent: 0, rejected: 0, throttled: 0, acked: 0, streams: 0, closed_by_server: 0 };
    await Promise.all(
      target.deviceKeys.slice(3).map(async (key) => {
        let seq = 1_000_000;
        while (Date.now() < untilMs) {
          const stream: HostileStream | undefined = await openHostileStream(target.receiver, key);
          if (!stream) {
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          outcome.streams!++;
          signal.addEventListener("abort", () => stream.close(), { once: true });
          for (let i = 0; Date.now() < untilMs; i++) {
            const kind = i % 4;
            stream.send(kind === 0 ? oversized : kind === 1 ? nan(++seq) : kind === 2 ? empty(++seq) : nan(5));
            outcome.sent!++;
            const answer = await stream.next(Math.max(1, Math.min(10_000, untilMs - Date.now())));
            if (!answer) {
              outcome.closed_by_server!++;
              break;
            }
            const c =
              answer.kind.case === "reject" ? "rejected" : answer.kind.case === "throttle" ? "throttled" : "acked";
            outcome[c]!++;
            if (answer.kind.case === "throttle") {
              const wait = Math.min(200, answer.kind.value.retryAfterMs);
              await new Promise((r) => setTimeout(r, wait));
            }
          }
          stream.close();
        }
      }),
    );
    return outcome;
  };
};

/** The loopback address the slow connections come from, so the per-address cap they meet is theirs alone. */
const SLOW_CLIENT_ADDRESS = "127.0.0.2";
/**
 * How long the slow connections are held at least: past the query's default
 * QUERY_HEADERS_TIMEOUT_MS (10 s, checked every second), so the phase shows
 * whether the server closes them.
 */
const SLOW_HOLD_MS = 15_000;

/**
 * Item 8: slow connections to the query port, from an address of their own:
 * partial HTTP/1.1 headers trickled one byte every few seconds, and HTTP/2
 * prefaces with nothing after, held for the phase (at least SLOW_HOLD_MS).
 * Counts the connections the server refused at once (the per-address cap),
 * those it closed later, and those it still holds open at the end, by kind.
 */
export const slowConnections: Attack = async (target) => async (untilMs) => {
  const url = new URL(target.queryUrl);
  const started = Date.now();
  const holdUntil = Math.max(untilMs, started + SLOW_HOLD_MS);
  const sockets: Array<{ socket: Socket; kind: "h1" | "h2" }> = [];
  const COUNT = 300;
  const outcome: AttackOutcome = { connections: 0, refused_at_once: 0, closed_by_server: 0, longest_closed_ms: 0 };
  const bump = (key: string) => {
    outcome[key] = (outcome[key] ?? 0) + 1;
  };
  let trickling = true;
  for (let i = 0; i < COUNT && Date.now() < holdUntil; i++) {
    const kind = i % 2 === 0 ? "h1" : "h2";
    const socket = netConnect({ port: Number(url.port), host: url.hostname, localAddress: SLOW_CLIENT_ADDRESS });
    let connectedAt = 0;
    socket.on("error", () => {});
    // Reads (and drops) what the server answers: a socket nobody reads never sees the server's FIN.
    socket.resume();
    socket.on("close", () => {
      if (!trickling || !connectedAt) return;
      const lived = Date.now() - connectedAt;
      // The cap closes a connection before reading a byte; a timeout after the headers deadline.
      if (lived < 1_000) bump("refused_at_once");
      else {
        bump("closed_by_server");
        bump(`${kind}_closed_by_server`);
        outcome.longest_closed_ms = Math.max(outcome.longest_closed_ms!, lived);
      }
    });
    socket.on("connect", () => {
      connectedAt = Date.now();
      if (kind === "h1") socket.write("POST /vigil.auth.v1.AuthService/Login HTTP/1.1\r\nHost: vigil\r\nX-Slow: ");
      else socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
      const trickle = () => {
        if (!trickling || socket.destroyed) return;
        if (kind === "h1") socket.write("a");
        setTimeout(trickle, 3_000);
      };
      setTimeout(trickle, 3_000);
    });
    sockets.push({ socket, kind });
    outcome.connections!++;
  }
  await new Promise((r) => setTimeout(r, Math.max(0, holdUntil - Date.now())));
  // From here on, closes are ours.
  trickling = false;
  for (const { socket, kind } of sockets) {
    if (socket.destroyed) continue;
    bump("open_at_end");
    bump(`${kind}_open_at_end`);
  }
  outcome.held_ms = Date.now() - started;
  for (const { socket } of sockets) socket.destroy();
  return outcome;
};

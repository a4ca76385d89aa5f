import { describe, expect, it } from "vitest";
import { isJetStreamUnavailable, retryWhileUnavailable } from "./retry-unavailable.ts";

function named(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const err = new Error(message);
  err.name = name;
  return Object.assign(err, extra);
}

function recordingLog() {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  return { lines, warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }) };
}

describe("isJetStreamUnavailable", () => {
  it("waits out timeouts, no responders and 503s, nothing else", () => {
    expect(isJetStreamUnavailable(named("TimeoutError", "timeout"))).toBe(true);
    expect(isJetStreamUnavailable(named("NoRespondersError", "no responders: '$JS.API.STREAM.INFO'"))).toBe(true);
    expect(
      isJetStreamUnavailable(named("JetStreamApiError", "JetStream system temporarily unavailable", { code: 503 })),
    ).toBe(true);
    expect(
      isJetStreamUnavailable(
        named("JetStreamApiError", "stream name already in use with a different configuration", { code: 400 }),
      ),
    ).toBe(false);
    expect(isJetStreamUnavailable(named("PermissionViolationError", "Permissions Violation for Publish"))).toBe(false);
    expect(isJetStreamUnavailable("timeout")).toBe(false);
    // As nats.js throws them: a RequestError whose cause says why.
    expect(isJetStreamUnavailable(new Error("request failed", { cause: named("NoResponders", "no responders") }))).toBe(
      true,
    );
    expect(isJetStreamUnavailable(new Error("request failed", { cause: named("AuthorizationError", "denied") }))).toBe(
      false,
    );
  });
});

describe("retryWhileUnavailable", () => {
  it("retries an unavailable cluster with growing pauses, saying so, then returns the result", async () => {
    const log = recordingLog();
    let calls = 0;
    const result = await retryWhileUnavailable(
      async () => {
        calls++;
        if (calls < 4) throw named("TimeoutError", "timeout");
        return "feed";
      },
      { what: "open the alerters' feed", log, initialDelayMs: 10, maxDelayMs: 30 },
    );
    expect(result).toBe("feed");
    expect(calls).toBe(4);
    expect(log.lines.map((l) => l.message)).toEqual(
      Array(3).fill("waiting for NATS JetStream: could not open the alerters' feed yet"),
    );
    const pauses = log.lines.map((l) => l.fields.retryInMs as number);
    expect(pauses[0]).toBeLessThanOrEqual(12);
    expect(pauses[2]).toBeGreaterThanOrEqual(24); // capped at 30 ± 20 %
    expect(pauses[2]).toBeLessThanOrEqual(36);
  });

  it("throws other errors at once, and the last error once stopped", async () => {
    const log = recordingLog();
    const config = named("JetStreamApiError", "different configuration", { code: 400 });
    await expect(retryWhileUnavailable(() => Promise.reject(config), { what: "x", log })).rejects.toBe(config);
    expect(log.lines).toEqual([]);

    const stop = new AbortController();
    const timeout = named("TimeoutError", "timeout");
    const waiting = retryWhileUnavailable(() => Promise.reject(timeout), {
      what: "x",
      log,
      signal: stop.signal,
      initialDelayMs: 60_000,
    });
    setTimeout(() => stop.abort(), 20);
    await expect(waiting).rejects.toBe(timeout);
  });
});

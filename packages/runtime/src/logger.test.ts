import { Writable } from "node:stream";
import { context, ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { lines, logger: createLogger({ name: "test", level: "trace", destination }) };
}

const traceId = "0af7651916cd43dd8448eb211c80319c";
const spanId = "b7ad6b7169203331";
const inSpan = (flags: TraceFlags, fn: () => void) =>
  context.with(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: flags }), fn);

describe("createLogger", () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => context.setGlobalContextManager(manager.enable()));
  afterAll(() => context.disable());

  it("censors secrets wherever a caller puts them", () => {
    const { lines, logger } = capture();
    logger.info(
      {
        apiKey: "vgl_secret",
        password: "hunter2",
        device: { apiKey: "vgl_nested" },
        headers: { authorization: "Bearer abc", "x-api-key": "vgl_header" },
        tokens: { accessToken: "a.b.c", refreshToken: "r1" },
        databaseUrl: "postgres://u:pw@db/vigil",
      },
      "hello",
    );
    const text = JSON.stringify(lines);
    for (const secret of ["vgl_secret", "hunter2", "vgl_nested", "Bearer abc", "vgl_header", "a.b.c", "r1", "pw@"])
      expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ msg: "hello", service: "test", apiKey: "[redacted]" });
  });

  it("names the trace and span of a sampled span, and no unsampled one", () => {
    const { lines, logger } = capture();
    inSpan(TraceFlags.SAMPLED, () => logger.info("sampled"));
    inSpan(TraceFlags.NONE, () => logger.info("unsampled"));
    logger.info("outside");
    expect(lines[0]).toMatchObject({ msg: "sampled", trace_id: traceId, span_id: spanId });
    expect(lines[1]).not.toHaveProperty("trace_id");
    expect(lines[2]).not.toHaveProperty("trace_id");
  });

  it("writes the level as its name, as log platforms expect", () => {
    const { lines, logger } = capture();
    logger.info("a");
    logger.warn("b");
    logger.debug("c");
    expect(lines.map((l) => l.level)).toEqual(["info", "warn", "debug"]);
  });
});

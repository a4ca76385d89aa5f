import { propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupTrace } from "./group-trace.ts";

const header = (trace: string, flags: "00" | "01") => ({ traceparent: `00-${trace}-${"b".repeat(16)}-${flags}` });
const traceOf = (ctx: Parameters<typeof trace.getSpanContext>[0]) => trace.getSpanContext(ctx)?.traceId;

describe("groupTrace", () => {
  beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterAll(() => propagation.disable());

  it("continues the first sampled batch and links every batch", () => {
    const g = groupTrace([
      header("1".repeat(32), "00"),
      undefined,
      header("2".repeat(32), "01"),
      header("3".repeat(32), "01"),
    ]);
    expect(traceOf(g.parent)).toBe("2".repeat(32));
    expect(g.links.map((l) => l.context.traceId)).toEqual(["1".repeat(32), "2".repeat(32), "3".repeat(32)]);
  });

  it("follows unsampled batches instead of starting a trace of its own", () => {
    const g = groupTrace([undefined, header("4".repeat(32), "00"), header("5".repeat(32), "00")]);
    expect(traceOf(g.parent)).toBe("4".repeat(32));
    expect(trace.getSpanContext(g.parent)?.traceFlags).toBe(0);
  });

  it("leaves a group without trace context to the sampler as a root", () => {
    const g = groupTrace([undefined, {}, { traceparent: "garbage" }]);
    expect(g.parent).toBe(ROOT_CONTEXT);
    expect(g.links).toEqual([]);
  });
});

import { type ColumnarBatch, RejectCode } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { type BatchLimits, validateBatch } from "./validate-batch.ts";

const now = Date.UTC(2026, 0, 1);
const limits: BatchLimits = { maxBatchReadings: 100, maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000 };

function batch(series: Array<{ sensor: string; times: number[]; values: number[] }>, seq = 1): ColumnarBatch {
  return {
    seq,
    series: series.map((s) => ({
      sensor: s.sensor,
      times: Float64Array.from(s.times),
      values: Float64Array.from(s.values),
    })),
  };
}

describe("validateBatch", () => {
  it("accepts a well-formed batch and counts its readings", () => {
    const verdict = validateBatch(
      batch([
        { sensor: "heart_rate_bpm", times: [now - 2000, now - 1000], values: [72, 73] },
        { sensor: "spo2.percent", times: [now], values: [98] },
      ]),
      limits,
      now,
    );
    expect(verdict).toEqual({ ok: true, readings: 3 });
  });

  it("rejects NaN and infinite values, naming the reading", () => {
    const verdict = validateBatch(
      batch([{ sensor: "t", times: [now - 2, now - 1, now], values: [1, NaN, Infinity] }]),
      limits,
      now,
    );
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.code).toBe(RejectCode.INVALID_BATCH);
    expect(verdict.violations.map((v) => v.field)).toEqual(["series[0].values[1]", "series[0].values[2]"]);
    expect(verdict.reason).toContain("not a finite number");
  });

  it("rejects an empty batch, an empty series and a ragged series", () => {
    expect(validateBatch(batch([]), limits, now)).toMatchObject({ ok: false, reason: "batch has no series" });
    const verdict = validateBatch(
      batch([
        { sensor: "a", times: [], values: [] },
        { sensor: "b", times: [now, now - 1], values: [1] },
      ]),
      limits,
      now,
    );
    expect(verdict).toMatchObject({
      ok: false,
      violations: [
        { field: "series[0]", description: "series is empty" },
        { field: "series[1]", description: "2 times but 1 values" },
      ],
    });
  });

  it("rejects times far in the future, older than retention or out of order", () => {
    const verdict = validateBatch(
      batch([
        { sensor: "a", times: [now - 86_400_001, now - 5, now - 5, now + 10 * 365 * 86_400_000], values: [1, 2, 3, 4] },
      ]),
      limits,
      now,
    );
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.violations.map((v) => v.description)).toEqual([
      expect.stringContaining("older than"),
      "times must be strictly increasing within a series",
      expect.stringContaining("in the future"),
    ]);
  });

  it("rejects bad sensor names and a sensor repeated in one batch", () => {
    const verdict = validateBatch(
      batch([
        { sensor: "Bad Name", times: [now], values: [1] },
        { sensor: "ok", times: [now], values: [1] },
        { sensor: "ok", times: [now - 1], values: [1] },
      ]),
      limits,
      now,
    );
    expect(verdict).toMatchObject({
      ok: false,
      violations: [{ field: "series[0].sensor" }, { field: "series[2].sensor" }],
    });
  });

  it("rejects seq 0 and batches over the reading limit", () => {
    expect(validateBatch(batch([{ sensor: "a", times: [now], values: [1] }], 0), limits, now)).toMatchObject({
      ok: false,
      code: RejectCode.BAD_SEQ,
    });
    const times = Array.from({ length: 101 }, (_, i) => now - 200 + i);
    expect(validateBatch(batch([{ sensor: "a", times, values: times.map(() => 1) }]), limits, now)).toMatchObject({
      ok: false,
      code: RejectCode.TOO_LARGE,
    });
  });

  it("reports at most 20 violations for a hostile batch", () => {
    const times = Array.from({ length: 100 }, (_, i) => now - 200 + i);
    const verdict = validateBatch(batch([{ sensor: "a", times, values: times.map(() => NaN) }]), limits, now);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.violations).toHaveLength(20);
    expect(verdict.reason).toContain("first 20 shown");
  });

  it("item 3: rejects a batch with more series than the limit with TOO_MANY_SERIES", () => {
    const series = Array.from({ length: 11 }, (_, i) => ({ sensor: `s${i}`, times: [now], values: [1] }));
    expect(validateBatch(batch(series), { ...limits, maxBatchSeries: 10 }, now)).toMatchObject({
      ok: false,
      code: RejectCode.TOO_MANY_SERIES,
      reason: "batch has 11 series, the limit is 10",
    });
    expect(validateBatch(batch(series.slice(0, 10)), { ...limits, maxBatchSeries: 10 }, now).ok).toBe(true);
  });
});

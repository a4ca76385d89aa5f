import { describe, expect, it } from "vitest";
import { toReadingColumns } from "./reading-rows.ts";

describe("toReadingColumns", () => {
  it("flattens batches into aligned column literals", () => {
    const columns = toReadingColumns(
      [
        {
          deviceId: 7,
          storedAtMs: 1000.5,
          sourceId: 5,
          batch: {
            seq: 3,
            series: [
              { sensor: "a", times: Float64Array.from([10, 11]), values: Float64Array.from([1.5, -2]) },
              { sensor: "b", times: Float64Array.from([12]), values: Float64Array.from([1e-7]) },
            ],
          },
        },
        {
          deviceId: 8,
          storedAtMs: 2000,
          sourceId: null,
          batch: { seq: 1, series: [{ sensor: "b", times: Float64Array.from([5]), values: Float64Array.from([0]) }] },
        },
      ],
      new Map([
        ["a", 1],
        ["b", 2],
      ]),
    );
    expect(columns).toEqual({
      rows: 4,
      timesMs: "{10,11,12,5}",
      values: "{1.5,-2,1e-7,0}",
      seqs: "{3,3,3,1}",
      receivedAtMs: "{1000.5,1000.5,1000.5,2000}",
      deviceIds: "{7,7,7,8}",
      sensorIds: "{1,1,2,2}",
      sourceIds: "{5,5,5,NULL}",
    });
  });

  it("fails loudly for a sensor without an id", () => {
    expect(() =>
      toReadingColumns(
        [
          {
            deviceId: 1,
            storedAtMs: 0,
            sourceId: null,
            batch: { seq: 1, series: [{ sensor: "x", times: Float64Array.of(1), values: Float64Array.of(1) }] },
          },
        ],
        new Map(),
      ),
    ).toThrow("sensor x has no id");
  });
});

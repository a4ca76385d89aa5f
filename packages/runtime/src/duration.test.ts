import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.ts";

describe("parseDuration", () => {
  it("reads the units operators write", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration(" 7d ")).toBe(604_800_000);
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses anything else", () => {
    for (const bad of ["", "1", "h", "1.5h", "-1h", "1w", "1 h", "1h30m", "99999999999999999d"]) {
      expect(parseDuration(bad), bad).toBeUndefined();
    }
  });
});

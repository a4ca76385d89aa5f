import { describe, expect, it } from "vitest";
import { isTransientDbError } from "./transient-error.ts";

describe("isTransientDbError", () => {
  it("retries connection loss, shutdown, deadlocks and unknown errors", () => {
    for (const code of ["08006", "57P01", "40P01", "40001", "53300"]) expect(isTransientDbError({ code })).toBe(true);
    expect(isTransientDbError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isTransientDbError(new Error("Connection terminated unexpectedly"))).toBe(true);
  });

  it("treats data errors as permanent", () => {
    for (const code of ["22003", "23502", "23503", "42P01"]) expect(isTransientDbError({ code })).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { isDataError, isTransientDbError } from "./transient-error.ts";

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

describe("isDataError", () => {
  it("item 3: only the batch's own data (classes 22 and 23, a full sensor dictionary) sets it aside", () => {
    for (const code of ["22003", "2200H", "23502", "23514"]) expect(isDataError({ code }), code).toBe(true);
    const full = Object.assign(new Error("no ids left"), { name: "SensorDictionaryError" });
    expect(isDataError(full)).toBe(true);
    // Permissions, a missing table, a program limit, a bug: the batch waits instead.
    for (const code of ["42501", "42P01", "54000", "XX000"]) expect(isDataError({ code }), code).toBe(false);
    expect(isDataError(new TypeError("x is undefined"))).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { checkedPageSize, decodeCursor, encodeCursor, hasIntegers } from "./paging.ts";

const isCursor = (c: unknown): c is { t: number; d: number } => hasIntegers(c, "t", "d");

describe("page tokens", () => {
  const request = { filter: { deviceCode: "OR" }, order: 1, pageSize: 10, pageToken: "" };

  it("round-trip the cursor, whatever the page size", () => {
    const token = encodeCursor({ t: 1_767_225_600_123, d: 4 }, request);
    expect(decodeCursor(token, { ...request, pageSize: 50, pageToken: token }, isCursor)).toEqual({
      t: 1_767_225_600_123,
      d: 4,
    });
  });

  it("refuse a token used with another filter or order", () => {
    const token = encodeCursor({ t: 1, d: 1 }, request);
    expect(() => decodeCursor(token, { ...request, filter: { deviceCode: "ICU" } }, isCursor)).toThrow(
      /different filter/,
    );
    expect(() => decodeCursor(token, { ...request, order: 2 }, isCursor)).toThrow(/different filter/);
  });

  it("refuse garbage and hand-edited tokens", () => {
    expect(() => decodeCursor("not-a-token", request, isCursor)).toThrow(/page_token/);
    const edited = Buffer.from(JSON.stringify({ f: "x", c: { t: "1; DROP TABLE readings", d: 1 } })).toString(
      "base64url",
    );
    expect(() => decodeCursor(edited, request, isCursor)).toThrow(/page_token/);
  });
});

describe("checkedPageSize", () => {
  it("defaults 0 and bounds the rest", () => {
    expect(checkedPageSize(0)).toBe(100);
    expect(checkedPageSize(1000)).toBe(1000);
    expect(() => checkedPageSize(1001)).toThrow(/page_size/);
    expect(() => checkedPageSize(-1)).toThrow(/page_size/);
  });
});

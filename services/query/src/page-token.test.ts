import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken } from "./page-token.ts";

describe("page tokens", () => {
  const request = { filter: { deviceCode: "OR" }, order: 1, pageSize: 10 };
  const cursor = { timeMs: 1_767_225_600_123, deviceId: 4, sensorId: 2 };

  it("round-trips the cursor and the total", () => {
    expect(decodePageToken(encodePageToken(request, cursor, 99), request)).toEqual({ cursor, total: 99 });
  });

  it("refuses a token used with another filter", () => {
    const token = encodePageToken(request, cursor, 99);
    expect(() => decodePageToken(token, { ...request, filter: { deviceCode: "ICU" } })).toThrow(/different filter/);
  });

  it("refuses garbage and hand-edited tokens", () => {
    expect(() => decodePageToken("not-a-token", request)).toThrow(/page_token/);
    const edited = Buffer.from(JSON.stringify({ f: "x", t: "1; DROP TABLE readings", d: 1, s: 1, n: 1 })).toString(
      "base64url",
    );
    expect(() => decodePageToken(edited, request)).toThrow(/page_token/);
  });
});

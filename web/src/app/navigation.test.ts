import { describe, expect, it } from "vitest";
import { safeNext } from "../auth/safe-next.ts";
import { type ConsolePage, canOpen } from "../pages/console-page.ts";
import { parseDeviceName } from "./device-name.ts";

describe("parseDeviceName", () => {
  it("takes the ways people type a device", () => {
    expect(parseDeviceName("DEMO-1")).toEqual({ code: "DEMO", number: 1 });
    expect(parseDeviceName(" or 12 ")).toEqual({ code: "OR", number: 12 });
    expect(parseDeviceName("rob7")).toEqual({ code: "ROB", number: 7 });
  });
  it("refuses anything else", () => {
    for (const bad of ["", "DEMO", "42", "DEMO-0", "DE MO-1", "DEMO-1/../../x", "ÄB-1"]) {
      expect(parseDeviceName(bad), bad).toBeUndefined();
    }
  });
});

describe("safeNext", () => {
  it("keeps paths of this site and drops everything else", () => {
    expect(safeNext("/admin/audit?action=x")).toBe("/admin/audit?action=x");
    for (const bad of [
      null,
      "",
      "https://evil.example/",
      "//evil.example/",
      "/\\evil.example",
      "javascript:alert(1)",
    ]) {
      expect(safeNext(bad), String(bad)).toBe("/");
    }
  });
});

describe("canOpen", () => {
  const page = { anyScope: ["devices:read", "devices:admin"] } as ConsolePage;
  it("needs one of the page's scopes; a page without any is open to every signed-in user", () => {
    expect(canOpen(page, ["readings:read"])).toBe(false);
    expect(canOpen(page, ["readings:read", "devices:admin"])).toBe(true);
    expect(canOpen({ ...page, anyScope: [] }, [])).toBe(true);
  });
});

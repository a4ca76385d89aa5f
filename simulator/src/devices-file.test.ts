import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readDevicesFile } from "./devices-file.ts";

describe("readDevicesFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-devices-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (content: unknown) => {
    const path = join(dir, `${Math.random()}.json`);
    writeFileSync(path, JSON.stringify(content));
    return path;
  };

  it("reads what `vigil devices create` prints", () => {
    const printed = [
      { device: { code: "ICU", number: 1, site: "ward-4", online: false, keys: [] }, apiKey: "vgl_a_b" },
      { device: { code: "ICU", number: 2, site: "ward-4", online: false, keys: [] }, apiKey: "vgl_c_d" },
    ];
    expect(readDevicesFile(file(printed))).toEqual([
      { code: "ICU", number: 1, apiKey: "vgl_a_b" },
      { code: "ICU", number: 2, apiKey: "vgl_c_d" },
    ]);
  });

  it("reads flat identities, one or a list", () => {
    expect(readDevicesFile(file({ code: "OR", number: 7, apiKey: "k" }))).toEqual([
      { code: "OR", number: 7, apiKey: "k" },
    ]);
  });

  it("names the file and the shape it expects when it holds something else", () => {
    const path = file([{ device: { code: "or", number: 1 }, apiKey: "k" }]);
    expect(() => readDevicesFile(path)).toThrow(/must hold \{device: \{code, number\}, apiKey\}/);
  });
});

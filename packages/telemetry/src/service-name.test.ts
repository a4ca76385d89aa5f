import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serviceNameOf } from "./service-name.ts";

const here = fileURLToPath(import.meta.url);

describe("serviceNameOf", () => {
  it("names a process after the package its entry script belongs to", () => {
    expect(serviceNameOf(here)).toBe("vigil-telemetry");
    expect(serviceNameOf(fileURLToPath(new URL("../../../services/receiver/src/main.ts", import.meta.url)))).toBe(
      "vigil-receiver",
    );
  });

  it("falls back to vigil without an entry or a package", () => {
    expect(serviceNameOf(undefined)).toBe("vigil");
    expect(serviceNameOf("/nowhere/at/all.ts")).toBe("vigil");
  });
});

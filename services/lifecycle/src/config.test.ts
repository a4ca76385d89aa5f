import { ConfigError } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { lifecycleSettings, loadLifecycleConfig } from "./config.ts";

describe("lifecycle configuration", () => {
  it("defaults to a year of raw readings, a week uncompressed, longer for the aggregates, no archive", () => {
    const config = loadLifecycleConfig({});
    expect(lifecycleSettings(config)).toEqual({
      readingsRetentionMs: 365 * 86_400_000,
      compressAfterMs: 7 * 86_400_000,
      aggregates1mRetentionMs: 730 * 86_400_000,
      aggregates1hRetentionMs: 3650 * 86_400_000,
    });
    expect(config.ARCHIVE_URL).toBeUndefined();
  });

  it("refuses aggregates that would be dropped before the raw readings", () => {
    expect(() =>
      loadLifecycleConfig({ READINGS_RETENTION_MS: String(800 * 86_400_000), AGGREGATES_1H_RETENTION_MS: "86400000" }),
    ).toThrow(ConfigError);
    expect(() => loadLifecycleConfig({ READINGS_RETENTION_MS: String(800 * 86_400_000) })).toThrow(
      /AGGREGATES_1M_RETENTION_MS: must be at least READINGS_RETENTION_MS/,
    );
  });
});

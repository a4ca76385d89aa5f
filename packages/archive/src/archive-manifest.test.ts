import { describe, expect, it } from "vitest";
import { archiveKeys, manifestsOverlapping } from "./archive-manifest.ts";

describe("archive keys", () => {
  const day = Date.UTC(2025, 0, 3);
  const keys = archiveKeys(day, day + 86_400_000, Date.UTC(2026, 0, 3, 2, 15));

  it("files an export under its day, with its range and export time", () => {
    expect(keys).toEqual({
      parquetKey: "readings/2025/01/03/readings_20250103T000000Z_20250104T000000Z_20260103T021500Z.parquet",
      manifestKey: "readings/2025/01/03/readings_20250103T000000Z_20250104T000000Z_20260103T021500Z.manifest.json",
    });
  });

  it("finds the manifests whose range overlaps a range", () => {
    const listing = [keys.parquetKey, keys.manifestKey, "readings/other.json"];
    expect(manifestsOverlapping(listing, day + 3_600_000, day + 7_200_000)).toEqual([
      { key: keys.manifestKey, startMs: day, endMs: day + 86_400_000, exportedAtMs: Date.UTC(2026, 0, 3, 2, 15) },
    ]);
    expect(manifestsOverlapping(listing, day + 86_400_000, day + 2 * 86_400_000)).toEqual([]);
    expect(manifestsOverlapping(listing, day - 1, day)).toEqual([]);
  });
});

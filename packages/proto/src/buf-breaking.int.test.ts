import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "@vigil/testkit";
import { afterAll, describe, expect, it } from "vitest";

const buf = join(repoRoot, "node_modules/.bin/buf");
const baselines = readdirSync(join(repoRoot, "proto/baseline")).filter((f) => f.endsWith(".binpb"));
const baseline = join(repoRoot, "proto/baseline", baselines[0] ?? "missing.binpb");

/** `buf breaking` of a module directory against the last release; resolves with its exit code and report. */
function breaking(dir: string) {
  return promisify(execFile)(buf, ["breaking", dir, "--against", baseline, "--error-format", "text"], {
    cwd: dir,
  }).then(
    (r) => ({ code: 0, report: r.stdout + r.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, report: err.stdout + err.stderr }),
  );
}

describe("the protos stay compatible with the last release (buf breaking)", () => {
  const copies: string[] = [];
  /** The tree's protos in a temporary module, with one file edited. */
  function editedCopy(file: string, edit: (text: string) => string): string {
    const dir = mkdtempSync(join(tmpdir(), "vigil-buf-breaking-"));
    copies.push(dir);
    cpSync(join(repoRoot, "buf.yaml"), join(dir, "buf.yaml"));
    cpSync(join(repoRoot, "proto"), join(dir, "proto"), { recursive: true });
    const path = join(dir, "proto", file);
    const before = readFileSync(path, "utf8");
    const after = edit(before);
    expect(after, "the edit changed the file").not.toBe(before);
    writeFileSync(path, after);
    return dir;
  }
  afterAll(() => {
    for (const dir of copies) rmSync(dir, { recursive: true, force: true });
  });

  it("keeps exactly one baseline: the previous release", () => {
    expect(baselines).toHaveLength(1);
    expect(baselines[0]).toMatch(/^v\d+\.\d+\.\d+\.binpb$/);
  });

  it("passes for the tree as it is", async () => {
    const { code, report } = await breaking(repoRoot);
    expect(report).toBe("");
    expect(code).toBe(0);
  });

  it("lets a new field, message or method through", async () => {
    const dir = editedCopy("vigil/devices/v1/devices.proto", (t) =>
      t
        .replace(
          "  uint64 last_stored_seq = 13;\n",
          "  uint64 last_stored_seq = 13;\n  string added_in_a_later_release = 99;\n",
        )
        .replace("message DisableDeviceResponse {", "message ExtraRequest {}\n\nmessage DisableDeviceResponse {")
        .replace("  rpc DisableDevice(", "  rpc Extra(ExtraRequest) returns (ExtraRequest);\n  rpc DisableDevice("),
    );
    expect(await breaking(dir)).toEqual({ code: 0, report: "" });
  });

  it("fails when a released field is removed or renumbered, naming it", async () => {
    const removed = editedCopy("vigil/devices/v1/devices.proto", (t) => t.replace("  string site = 5;\n", ""));
    const out = await breaking(removed);
    expect(out.code).not.toBe(0);
    expect(out.report).toMatch(/Previously present field "5" with name "site" on message "Device" was deleted/);

    const renumbered = editedCopy("vigil/readings/v1/readings.proto", (t) =>
      t.replace("double value = 5;", "double value = 15;"),
    );
    expect((await breaking(renumbered)).code).not.toBe(0);
  });
});

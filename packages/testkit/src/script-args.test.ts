import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// A front door of its own, run as the real ones are: a Node process whose exit code and output count.
const dir = mkdtempSync(join(tmpdir(), "vigil-script-args-"));
const script = join(dir, "front-door.ts");
writeFileSync(
  script,
  `import { scriptArgs } from ${JSON.stringify(new URL("./script-args.ts", import.meta.url).pathname)};
const { values, positiveInt } = scriptArgs("bench:demo", "usage: npm run bench:demo -- [--rows N] [--fast]", {
  rows: { type: "string", default: "5" },
  fast: { type: "boolean", default: false },
});
process.stdout.write(JSON.stringify({ rows: positiveInt(values.rows, "--rows"), fast: values.fast }));
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("scriptArgs", () => {
  it("hands the flags over, defaults included", () => {
    expect(run()).toMatchObject({ code: 0, stdout: '{"rows":5,"fast":false}' });
    expect(run("--rows", "7", "--fast")).toMatchObject({ code: 0, stdout: '{"rows":7,"fast":true}' });
  });

  it("prints the usage on --help and exits 0", () => {
    expect(run("--help")).toEqual({
      code: 0,
      stdout: "usage: npm run bench:demo -- [--rows N] [--fast]\n",
      stderr: "",
    });
  });

  it("names a mistyped option, a missing value or a stray argument, then the usage, and exits 2 without a stack trace", () => {
    for (const [args, said] of [
      [["--rowz", "3"], "Unknown option '--rowz'"],
      [["--rows"], "argument missing"],
      [["extra"], "Unexpected argument 'extra'"],
    ] as const) {
      const r = run(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(new RegExp(`^bench:demo: .*${said}`));
      expect(r.stderr).toContain("usage: npm run bench:demo");
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("refuses a value that is not a positive integer, naming the flag", () => {
    for (const bad of ["0", "-2", "1.5", "x"]) {
      expect(run(`--rows=${bad}`)).toEqual({
        code: 2,
        stdout: "",
        stderr: "bench:demo: --rows must be a positive integer\n",
      });
    }
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@vigil/testkit";
import { describe, expect, it } from "vitest";
import { longestGap } from "./cases.ts";
import { controlPortOf, parseStatus } from "./fleet.ts";
import { addMigration, readTimings, summarize } from "./report.ts";

describe("test:k8s report", () => {
  const clean = {
    lost: 0,
    duplicates: 0,
    recoveryS: 3,
    acked: 100,
    longestAckGapS: 1,
    reconnects: 2,
    drains: 1,
    catchUpS: 0,
  };
  const facts = {
    results: { a: clean, b: { ...clean, upgradeS: 41.26 } },
    steps: {},
    cleanupS: 0,
    tlsSecretS: 0,
    installS: 60,
    helmTestS: 10,
    helmTestAfterS: 9,
    helmTestPassed: true,
    toRunningReleaseS: 95.04,
    coldCache: false,
    totalS: 500,
  };

  it("passes only when no case lost or duplicated a reading and helm test passed", () => {
    expect(summarize(facts).ok).toBe(true);
    expect(summarize({ ...facts, results: { a: clean, b: { ...clean, lost: 1 } } }).ok).toBe(false);
    expect(summarize({ ...facts, results: { a: { ...clean, duplicates: 3 } } }).ok).toBe(false);
    expect(summarize({ ...facts, helmTestPassed: false }).ok).toBe(false);
    expect(summarize({ ...facts, results: {} }).ok).toBe(false);
  });

  it("reports the fresh-machine time of a cold run, or the one recorded earlier, never a warm run's as fresh", () => {
    expect(summarize({ ...facts, coldCache: true }).times).toMatchObject({
      freshMachineToRunningReleaseS: 95,
      freshMeasured: "this run",
    });
    expect(summarize(facts).times.freshMachineToRunningReleaseS).toBeNull();
    const recorded = { seconds: 1500.44, at: "2026-12-06T06:00:00.000Z" };
    expect(summarize({ ...facts, fresh: recorded }).times).toMatchObject({
      freshMachineToRunningReleaseS: 1500.4,
      freshMeasured: recorded.at,
      thisRunToRunningReleaseS: 95,
      upgradeS: { b: 41.3 },
    });
  });

  it("sums the scripts' step times by name", () => {
    expect(readTimings("binaries 700\ncluster start 12\nbinaries 1\n\ngarbage\n")).toEqual({
      binaries: 701,
      "cluster start": 12,
    });
  });

  it("finds the longest time without a new ack", () => {
    const s = (t: number, acked: number) => ({ t: t * 1000, s: { acked } });
    expect(longestGap([s(0, 1), s(1, 2), s(2, 2), s(3, 2), s(4.5, 2), s(5, 9), s(6, 10)])).toBe(4);
    expect(longestGap([])).toBe(0);
  });

  it("reads the simulator's control port and its Connect-JSON status (64-bit counters as strings)", () => {
    const log = '{"level":30,"msg":"fleet progress"}\n{"level":30,"controlPort":41234,"msg":"simulator started"}\n';
    expect(controlPortOf(log)).toBe(41234);
    expect(() => controlPortOf('{"msg":"other"}')).toThrow(/control port/);
    expect(parseStatus({ status: { summary: { devices: 20, connected: 19, acked: "1234", unacked: "3" } } })).toEqual({
      devices: 20,
      connected: 19,
      acked: 1234,
      unacked: 3,
      reconnects: 0,
      drains: 0,
      rejected: 0,
    });
  });

  it("adds a migration to the project's migrate.ts, after the last one", () => {
    const source = readFileSync(join(repoRoot, "packages/db/src/migrate.ts"), "utf8");
    const out = addMigration(source, "9999-probe", "probe");
    expect(out).toContain('import * as probe from "./migrations/9999-probe.ts";');
    const list = out.slice(out.indexOf("const migrations"));
    expect(list.indexOf('"9999-probe": probe,')).toBeGreaterThan(list.lastIndexOf('"0'));
    expect(out.split("\n").length).toBe(source.split("\n").length + 2);
    expect(() => addMigration("export {};", "x", "x")).toThrow(/no longer has/);
  });
});

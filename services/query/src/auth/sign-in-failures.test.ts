import type { AuditEntry } from "@vigil/db";
import { describe, expect, it } from "vitest";
import { SignInFailures } from "./sign-in-failures.ts";

function collector(options: { maxUsernames?: number; maxAddresses?: number } = {}) {
  const written: AuditEntry[][] = [];
  let now = Date.parse("2026-12-06T09:00:00Z");
  const failures = new SignInFailures({
    windowMs: 60_000,
    maxUsernames: options.maxUsernames ?? 100,
    maxAddresses: options.maxAddresses ?? 20,
    write: async (entries) => {
      written.push(entries);
    },
    now: () => now,
  });
  return { failures, written, advance: (ms: number) => (now += ms) };
}

describe("SignInFailures", () => {
  it("sums a window's failures into one entry per username, with first and last time and addresses", async () => {
    const { failures, written, advance } = collector();
    failures.record("alice", "10.0.0.1");
    advance(5_000);
    failures.record("alice", "10.0.0.2");
    failures.record("alice", "10.0.0.1");
    failures.record("bob", "10.0.0.9");
    await failures.flush();
    expect(written).toHaveLength(1);
    const [alice, bob] = written[0]!;
    expect(alice).toEqual({
      actor: "anonymous",
      action: "auth.login_failed",
      target: "user:alice",
      details: {
        failures: 3,
        first: "2026-12-06T09:00:00.000Z",
        last: "2026-12-06T09:00:05.000Z",
        addresses: ["10.0.0.1", "10.0.0.2"],
      },
      rowsAffected: 3,
    });
    expect(bob).toMatchObject({ target: "user:bob", rowsAffected: 1 });
    // The next window starts empty; an empty window writes nothing.
    await failures.flush();
    expect(written).toHaveLength(1);
  });

  it("writes at most maxUsernames + 2 entries a window however many names and addresses an attacker uses", async () => {
    const { failures, written } = collector({ maxUsernames: 3, maxAddresses: 2 });
    for (let i = 0; i < 10_000; i++) failures.record(`user${i}`, `10.0.${i % 256}.${i % 7}`);
    for (let i = 0; i < 500; i++) failures.record(undefined, `10.1.0.${i % 256}`);
    await failures.flush();
    const entries = written[0]!;
    expect(entries).toHaveLength(5);
    const overflow = entries.find((e) => e.target === "user:*")!;
    expect(overflow.details).toMatchObject({ failures: 10_000 - 3, usernames: 10_000 - 3 });
    expect((overflow.details as { addresses: string[] }).addresses).toHaveLength(2);
    expect((overflow.details as { failuresFromOtherAddresses: number }).failuresFromOtherAddresses).toBeGreaterThan(0);
    // Names no account can have: counted, never written as typed.
    const invalid = entries.find((e) => e.target === "user:(invalid)")!;
    expect(invalid.details).toMatchObject({ failures: 500 });
  });

  it("keeps writing after a write fails", async () => {
    const written: AuditEntry[][] = [];
    let fail = true;
    const failures = new SignInFailures({
      windowMs: 60_000,
      maxUsernames: 10,
      maxAddresses: 2,
      write: async (entries) => {
        if (fail) throw new Error("database down");
        written.push(entries);
      },
    });
    failures.record("alice", "a");
    await failures.flush();
    fail = false;
    failures.record("bob", "b");
    await failures.flush();
    expect(written.map((w) => w.map((e) => e.target))).toEqual([["user:bob"]]);
  });
});

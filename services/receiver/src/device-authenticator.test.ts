import type { AuthenticatedDevice } from "@vigil/devices";
import { describe, expect, it } from "vitest";
import { DeviceAuthenticator } from "./device-authenticator.ts";

const device = (validUntilMs = Number.POSITIVE_INFINITY): AuthenticatedDevice => ({
  id: 1,
  code: "OR",
  number: 1,
  keyPrefix: "abc",
  validUntilMs,
});

describe("DeviceAuthenticator", () => {
  it("asks the database once per key within the cache time", async () => {
    let now = 0;
    let lookups = 0;
    const auth = new DeviceAuthenticator(
      async () => {
        lookups++;
        return device();
      },
      1000,
      () => now,
    );
    await auth.authenticate("k");
    await auth.authenticate("k");
    expect(lookups).toBe(1);
    now = 1001;
    await auth.authenticate("k");
    expect(lookups).toBe(2);
  });

  it("never trusts a cached key past its expiry, and forgets a device on demand", async () => {
    let now = 0;
    let lookups = 0;
    const auth = new DeviceAuthenticator(
      async () => {
        lookups++;
        return device(100);
      },
      10_000,
      () => now,
    );
    await auth.authenticate("k");
    now = 100;
    await auth.authenticate("k");
    expect(lookups).toBe(2);
    auth.forgetDevice(1);
    await auth.authenticate("k");
    expect(lookups).toBe(3);
  });

  it("does not cache refusals", async () => {
    let lookups = 0;
    const auth = new DeviceAuthenticator(async () => {
      lookups++;
      return undefined;
    }, 10_000);
    expect(await auth.authenticate("bad")).toBeUndefined();
    expect(await auth.authenticate("bad")).toBeUndefined();
    expect(lookups).toBe(2);
  });
});

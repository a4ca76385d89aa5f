import { Code } from "@connectrpc/connect";
import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import { badRequestDetail, InvalidArgumentError, toConnectError } from "./errors.ts";

const log = createLogger({ name: "test", level: "silent" });

describe("toConnectError", () => {
  it("names the refused field in a google.rpc.BadRequest", () => {
    const err = toConnectError(new InvalidArgumentError("filter.sensor", "must match x"), log, "M");
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("filter.sensor: must match x");
    expect(err.details).toEqual([badRequestDetail("filter.sensor", "must match x")]);
  });

  it("tells a caller of an unmigrated database to run vigil migrate, not which relation is missing", () => {
    const pg = Object.assign(new Error('relation "devices" does not exist'), { code: "42P01" });
    const err = toConnectError(pg, log, "M");
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe("the database is not migrated: run `vigil migrate`");
    expect(err.rawMessage).not.toContain("relation");
  });

  it("hides anything else behind internal error", () => {
    const err = toConnectError(new Error("secret detail"), log, "M");
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error");
  });
});

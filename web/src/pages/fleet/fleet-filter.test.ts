import { create } from "@bufbuild/protobuf";
import { DeviceSchema } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { matchesSearch } from "./fleet-filter.ts";

describe("matchesSearch", () => {
  const robot = create(DeviceSchema, {
    code: "OR",
    number: 7,
    kind: "surgical_robot",
    model: "Arm X",
    site: "theatre-3",
    labels: { floor: "2" },
  });
  it("matches every word against name, kind, model, site and labels, ignoring case", () => {
    expect(matchesSearch(robot, "")).toBe(true);
    expect(matchesSearch(robot, "or-7")).toBe(true);
    expect(matchesSearch(robot, "robot THEATRE")).toBe(true);
    expect(matchesSearch(robot, "floor=2 arm")).toBe(true);
    expect(matchesSearch(robot, "robot ward")).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { pseudonymProblem } from "./pseudonym.ts";

describe("pseudonymProblem", () => {
  it.each([
    "3f2b8c1e-9d4a-4f6b-8e2d-7a1c5b9e0f43",
    "3F2B8C1E-9D4A-4F6B-8E2D-7A1C5B9E0F43",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "a1b2c3d4e5f60718",
    "SURG-0042",
    "PT-7F3A9C21",
    "S-123",
  ])("accepts the opaque identifier %s", (id) => {
    expect(pseudonymProblem(id)).toBeUndefined();
  });

  it.each([
    ["a name", "Jane Doe"],
    ["a user name", "jdoe"],
    ["a name in capitals", "DOE-JANE"],
    ["an e-mail address", "jane.doe@example.org"],
    ["a phone number", "+44 20 7946 0958"],
    ["a phone number without spaces", "02079460958"],
    ["a date of birth", "1980-04-12"],
    ["a compact date", "19800412"],
    ["a record number", "00123456"],
    ["a national number", "123456789012345678"],
    ["hex digits with no letter (a number)", "1234567890123456"],
    ["a code with lower case", "Pt-7f3a"],
    ["empty", ""],
    ["too long", `PT-${"A1".repeat(40)}`],
  ])("refuses %s", (_what, value) => {
    expect(pseudonymProblem(value)).toBeDefined();
  });
});

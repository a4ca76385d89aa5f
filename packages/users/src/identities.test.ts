import { describe, expect, it } from "vitest";
import { usernameFromHint } from "./identities.ts";
import { USERNAME_PATTERN } from "./user-store.ts";

const identity = { issuer: "https://idp.example", subject: "248289761001" };

describe("usernames from an identity provider's claims", () => {
  it("keeps a valid name, lower-cased", () => {
    expect(usernameFromHint("Alice.Smith@Hospital.example", identity)).toBe("alice.smith@hospital.example");
  });

  it("replaces what a username may not hold, and drops accents", () => {
    expect(usernameFromHint("José Núñez", identity)).toBe("jose-nunez");
    expect(usernameFromHint("../../etc/passwd", identity)).toBe("etc-passwd");
    expect(usernameFromHint("a\u0000b;DROP TABLE users", identity)).toBe("a-b-drop-table-users");
  });

  it("makes a name from the identity when too little is left, and caps the length", () => {
    expect(usernameFromHint("李", identity)).toMatch(/^sso-[0-9a-f]{8}$/);
    expect(usernameFromHint("", identity)).toBe(usernameFromHint("", identity));
    expect(usernameFromHint("", identity)).not.toBe(usernameFromHint("", { ...identity, subject: "other" }));
    expect(usernameFromHint("x".repeat(500), identity)).toHaveLength(64);
  });

  it("always yields a valid username", () => {
    for (const hint of ["--", "..a..", "@@@", " spaced name ", "UPPER", "ü".repeat(70), "a-".repeat(40)]) {
      expect(usernameFromHint(hint, identity)).toMatch(USERNAME_PATTERN);
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { natsAuth } from "./nats-auth.ts";

describe("NATS credentials from the environment", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-nats-auth-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("none without NATS_USER; a password without a user, or both password forms, refused", () => {
    expect(natsAuth({})).toBeUndefined();
    expect(() => natsAuth({ NATS_PASSWORD: "x" })).toThrow(/need NATS_USER/);
    expect(() => natsAuth({ NATS_USER: "vigil-writer" })).toThrow(/needs NATS_PASSWORD_FILE/);
    expect(() => natsAuth({ NATS_USER: "u", NATS_PASSWORD: "x", NATS_PASSWORD_FILE: "/f" })).toThrow(/not both/);
  });

  it("reads the file at every (re)connect, so a rotated password is used without a restart", () => {
    const file = join(dir, "password");
    writeFileSync(file, "first-password\n");
    const auth = natsAuth({ NATS_USER: "vigil-writer", NATS_PASSWORD_FILE: file })!;
    expect(auth.user).toBe("vigil-writer");
    expect(auth.password()).toBe("first-password");
    writeFileSync(file, "second-password\n");
    expect(auth.password()).toBe("second-password");
  });

  it("fails at start on a missing or empty file, naming the path and never a password", () => {
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    expect(() => natsAuth({ NATS_USER: "u", NATS_PASSWORD_FILE: empty })).toThrow(
      `NATS_PASSWORD_FILE ${empty} is empty`,
    );
    const missing = join(dir, "missing");
    expect(() => natsAuth({ NATS_USER: "u", NATS_PASSWORD_FILE: missing })).toThrow(
      `cannot read NATS_PASSWORD_FILE ${missing}: ENOENT`,
    );
  });
});

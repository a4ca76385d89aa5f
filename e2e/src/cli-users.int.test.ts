import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, type Pipeline, USER_PASSWORD } from "./pipeline.ts";
import { runCli, runCliOnTerminal } from "./run-cli.ts";
import { startTestPipeline } from "./test-pipeline.ts";

/** `vigil users …` and `vigil password` as an admin and a nurse run them, each with their own sign-in. */
describe("vigil users and vigil password", () => {
  let pipeline: Pipeline;
  let home: string;
  let asAdmin: Record<string, string | undefined>;
  let asNurse: Record<string, string | undefined>;
  const admin = (args: string[], input?: string) => runCli(args, asAdmin, input);
  const nurse = (args: string[], input?: string) => runCli(args, asNurse, input);

  beforeAll(async () => {
    pipeline = await startTestPipeline();
    home = await mkdtemp(join(tmpdir(), "vigil-cli-users-"));
    const base = {
      PATH: process.env.PATH,
      HOME: home,
      VIGIL_SERVER: pipeline.queryUrl,
      // API commands must not need the database.
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    };
    asAdmin = { ...base, XDG_CONFIG_HOME: join(home, "admin") };
    asNurse = { ...base, XDG_CONFIG_HOME: join(home, "nurse") };
    expect((await admin(["login", "--username", "admin"], `${ADMIN_PASSWORD}\n`)).code).toBe(0);
  });
  afterAll(async () => {
    await pipeline?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it("lists users as JSON and as a table", async () => {
    expect((await admin(["users", "create", "--username", "nurse"], USER_PASSWORD)).code).toBe(0);
    const listed = await admin(["users", "list"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.out).toEqual([
      expect.objectContaining({ username: "admin", role: "ROLE_ADMIN", createTime: expect.any(String) }),
      expect.objectContaining({ username: "nurse", role: "ROLE_USER" }),
    ]);
    const admins = await admin(["users", "list", "--role", "admin", "--limit", "5"]);
    expect((admins.out as Array<{ username: string }>).map((u) => u.username)).toEqual(["admin"]);
    const table = await runCliOnTerminal(["users", "list"], asAdmin);
    expect(table.code).toBe(0);
    expect(table.output).toMatch(/username.*role.*createTime.*disableTime/);
    expect(table.output).toMatch(/nurse.*ROLE_USER/);
  });

  it("disables, enables, changes the role of and resets the password of a user", async () => {
    expect((await nurse(["login", "--username", "nurse"], USER_PASSWORD)).code).toBe(0);
    expect((await nurse(["sites", "list"])).code).toBe(0);

    const disabled = await admin(["users", "disable", "--username", "nurse"]);
    expect(disabled.out).toMatchObject({ username: "nurse", disableTime: expect.any(String) });
    const refused = await nurse(["sites", "list"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[unauthenticated]");
    const relogin = await nurse(["login", "--username", "nurse"], USER_PASSWORD);
    expect(relogin).toMatchObject({ code: 1, stderr: expect.stringContaining("this account is disabled") });
    expect((await admin(["users", "list", "--disabled", "true"])).out).toEqual([
      expect.objectContaining({ username: "nurse" }),
    ]);
    expect((await admin(["users", "enable", "--username", "nurse"])).out).not.toHaveProperty("disableTime");

    const role = await admin(["users", "set-role", "--username", "nurse", "--role", "clinician"]);
    expect(role.out).toMatchObject({ username: "nurse", role: "ROLE_CLINICIAN" });

    const reset = await admin(["users", "reset-password", "--username", "nurse", "--generate"]);
    expect(reset.code, reset.stderr).toBe(0);
    const generated = (reset.out as { generatedPassword: string }).generatedPassword;
    expect(generated).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const chosen = await admin(["users", "reset-password", "--username", "nurse"], "chosen-by-the-admin\n");
    expect(chosen.out).toMatchObject({ user: { username: "nurse" } });
    expect(chosen.out).not.toHaveProperty("generatedPassword");
    const login = await nurse(["login", "--username", "nurse"], "chosen-by-the-admin");
    expect(login.out).toMatchObject({ user: { role: "ROLE_CLINICIAN" } });
  });

  it("changes one's own password, keeping this sign-in and ending the others", async () => {
    const elsewhere = { ...asNurse, XDG_CONFIG_HOME: join(home, "nurse-laptop") };
    expect((await runCli(["login", "--username", "nurse"], elsewhere, "chosen-by-the-admin")).code).toBe(0);

    const wrong = await nurse(["password"], "not-the-password\nnurse-own-password-1\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("[invalid_argument]");
    const oneLine = await nurse(["password"], "chosen-by-the-admin");
    expect(oneLine.code).toBe(2);

    const changed = await nurse(["password"], "chosen-by-the-admin\nnurse-own-password-1\n");
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.out).toEqual({ username: "nurse", passwordChanged: true, otherSessionsEnded: true });
    expect((await nurse(["sites", "list"])).code).toBe(0);
    const ended = await runCli(["sites", "list"], elsewhere);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain("[unauthenticated]");
    expect((await runCli(["login", "--username", "nurse"], elsewhere, "nurse-own-password-1")).code).toBe(0);
  });

  it("deletes a user, and refuses to lock the admins out", async () => {
    const self = await admin(["users", "disable", "--username", "admin"]);
    expect(self.code).toBe(1);
    expect(self.stderr).toContain("[failed_precondition]");
    const demote = await admin(["users", "set-role", "--username", "admin", "--role", "user"]);
    expect(demote.stderr).toMatch(/last enabled admin/);

    const deleted = await admin(["users", "delete", "--username", "Nurse"]);
    expect(deleted.out).toEqual({ username: "nurse", deleted: true });
    expect((await admin(["users", "list"])).out).toEqual([expect.objectContaining({ username: "admin" })]);
    const gone = await nurse(["sites", "list"]);
    expect(gone.code).toBe(1);
    const again = await admin(["users", "delete", "--username", "nurse"]);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining("[not_found]") });

    for (const args of [
      ["users", "set-role", "--username", "x"],
      ["users", "set-role", "--username", "x", "--role", "boss"],
      ["users", "disable"],
      ["users", "list", "--disabled", "maybe"],
    ]) {
      expect((await admin(args)).code, args.join(" ")).toBe(2);
    }
  });
});

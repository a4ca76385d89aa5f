import { callApi, expect, signIn, test } from "./fixtures.ts";

test("an admin creates, changes, disables, resets and deletes a user; their own row has no lockout buttons", async ({
  page,
}) => {
  await signIn(page, "admin", "/admin/users");
  const me = page.getByRole("row", { name: /admin \(you\)/ });
  await expect(me).toBeVisible();
  await expect(me.getByRole("button", { name: /Disable|Delete/ })).toHaveCount(0);
  // Anchored: other specs (single sign-on) add users such as ward.nurse to the shared stack.
  await expect(page.getByRole("row", { name: /^nurse / })).toContainText("Enabled");

  await page.getByLabel("Username").fill("porter");
  await page.getByLabel("Password").fill("porter-password-for-tests");
  await page.getByLabel(/^Technician/).check();
  await page.getByRole("button", { name: "Create user" }).click();
  const row = page.getByRole("row", { name: /porter/ });
  await expect(row.getByLabel("Role of porter")).toHaveValue(String(4));

  await row.getByLabel("Role of porter").selectOption({ label: "Clinician" });
  await expect(page.getByRole("status").filter({ hasText: "porter is now clinician" })).toBeVisible();

  await row.getByRole("button", { name: "Disable porter" }).click();
  await row.getByRole("button", { name: "Confirm: disable porter" }).click();
  await expect(row).toContainText("Disabled");
  await row.getByRole("button", { name: "Enable porter" }).click();
  await expect(row).toContainText("Enabled");

  await row.getByRole("button", { name: "Reset password of porter" }).click();
  await row.getByRole("button", { name: "Confirm: reset the password of porter" }).click();
  const secret = page.locator("code.secret");
  await expect(secret).toHaveText(/^[A-Za-z0-9_-]{24}$/);

  // A guard's reason reaches the page: the last admin cannot be demoted.
  await me.getByLabel("Role of admin").selectOption({ label: "User" });
  await expect(page.getByRole("alert")).toContainText("last enabled admin");

  await row.getByRole("button", { name: "Delete porter" }).click();
  await row.getByRole("button", { name: "Confirm: delete for good porter" }).click();
  await expect(page.getByRole("row", { name: /porter/ })).toHaveCount(0);
  const audit = await callApi(page, "vigil.audit.v1.AuditService/ListAuditLog", { actor: "user:admin" });
  const actions = (audit.json.entries as Array<{ action: string; target: string }>)
    .filter((e) => e.target === "user:porter")
    .map((e) => e.action);
  expect(actions).toEqual(
    expect.arrayContaining([
      "user.create",
      "user.set_role",
      "user.disable",
      "user.enable",
      "user.password_reset",
      "user.delete",
    ]),
  );
});

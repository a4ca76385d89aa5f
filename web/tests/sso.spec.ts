import { expect, stack, test } from "./fixtures.ts";

test("without single sign-on configured, the sign-in page shows no SSO button", async ({ page }) => {
  await page.goto("/sign-in");
  await expect(page.getByRole("button", { name: "Sign in", exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: /Sign in with/ })).toHaveCount(0);
});

test("signs in with the identity provider and lands where the user was going, no code left in the URL", async ({
  page,
}) => {
  const { sso } = stack();
  await page.goto(`${sso.url}/devices/DEMO/1`);
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByRole("button", { name: `Sign in with ${sso.displayName}` }).click();
  // The provider's own (development) login and consent pages.
  await page.locator('input[name="login"]').fill(sso.clinician);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
  await expect(page).toHaveURL(`${sso.url}/devices/DEMO/1`);
  expect(new URL(page.url()).hash).toBe("");
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem("vigil.session") ?? "{}"));
  expect(session).toMatchObject({ username: sso.clinician, role: "clinician" });
});

test("a user the provider knows but Vigil maps to no role is told why", async ({ page }) => {
  const { sso } = stack();
  await page.goto(`${sso.url}/sign-in`);
  await page.getByRole("button", { name: `Sign in with ${sso.displayName}` }).click();
  await page.locator('input[name="login"]').fill(sso.unmapped);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("alert")).toContainText("in no group that Vigil gives a role to");
  expect(new URL(page.url()).hash).toBe("");
  await expect(page.getByRole("button", { name: "Sign out" })).toHaveCount(0);
});

import { expect, signIn, stack, storedSession, test } from "./fixtures.ts";

test("a wrong password is refused; the right one signs in and lands on the fleet", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong username or password.");

  await page.getByLabel("Password").fill(stack().admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/fleet$/);
  await expect(page.getByRole("heading", { level: 1, name: "Fleet" })).toBeFocused();
  const demo = page.getByRole("row", { name: /DEMO-1/ });
  await expect(demo).toContainText("Online");
  await expect(page.getByRole("row", { name: /OR-1/ })).toContainText("Offline");
  await expect(page.getByRole("row", { name: /OR-1/ })).toContainText("never");
});

test("a deep link survives sign-in", async ({ page }) => {
  await page.goto("/admin/audit?action=user.create");
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(stack().admin.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin\/audit\?action=user\.create$/);
  await expect(page.getByRole("row", { name: /user\.create/ }).first()).toBeVisible();
});

test("the session outlives several access tokens without a sign-in or a failed call", async ({ page }) => {
  const refreshes: number[] = [];
  const failures: string[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/vigil.auth.v1.AuthService/Refresh")) refreshes.push(Date.now());
  });
  page.on("response", (r) => {
    if (r.url().includes("/vigil.") && r.status() >= 400) failures.push(`${r.status()} ${r.url()}`);
  });
  await signIn(page, "admin");
  // Access tokens live 10 s in the test stack: 25 s is two refreshes at least, while the
  // fleet page keeps polling and the device page keeps its live stream.
  await page.getByRole("link", { name: "DEMO-2" }).click();
  await expect(page.getByText("Live", { exact: true })).toBeVisible();
  await page.waitForTimeout(25_000);
  expect(refreshes.length).toBeGreaterThanOrEqual(2);
  await page.getByRole("link", { name: "Audit log" }).click();
  // The newest entries are this session's own reads (the access log), however many polls ran.
  await expect(page.getByRole("row", { name: /readings\.(list|stats)/ }).first()).toBeVisible();
  await expect(page).not.toHaveURL(/sign-in/);
  expect(failures).toEqual([]);
});

test("signing out ends the session here and at the API", async ({ page }) => {
  await signIn(page, "admin");
  const { refreshToken } = await storedSession(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  expect(await page.evaluate(() => localStorage.getItem("vigil.session"))).toBeNull();
  await expect
    .poll(async () =>
      (await page.request.post("/vigil.auth.v1.AuthService/Refresh", { data: { refreshToken } })).status(),
    )
    .toBe(401);
  await page.goto("/fleet");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Ffleet$/);
});

import { expect, stack, test } from "./fixtures.ts";

test("keyboard only: sign in, skip to the content, move between pages, open a device", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByLabel("Username")).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Username")).toBeFocused();
  await page.keyboard.type(stack().admin.username);
  await page.keyboard.press("Tab");
  await page.keyboard.type(stack().admin.password);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Fleet" })).toBeFocused();

  // On a fresh load the skip link is the first stop, and leads past the navigation.
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Fleet" })).toBeVisible();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Search")).toBeFocused();

  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Fleet" })).toBeVisible();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Fleet", exact: true })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Admin: Dead letters" })).toBeFocused();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Audit log" })).toBeFocused();

  // The device box: type a name, Enter.
  await page.getByLabel(/Open a device by name/).focus();
  await page.keyboard.type("demo-2");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "DEMO-2" })).toBeFocused();
  // Range buttons are reachable and pressable.
  await page.getByRole("button", { name: "1 h", exact: true }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("button", { name: "1 h", exact: true })).toHaveAttribute("aria-pressed", "true");
});

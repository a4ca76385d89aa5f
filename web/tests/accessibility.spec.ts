import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";
import { expect, signIn, stack, test } from "./fixtures.ts";

/** No serious or critical violation of WCAG 2.1 A/AA or axe's best practices. */
async function expectAccessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"])
    .analyze();
  const serious = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  expect(serious, what).toEqual([]);
}

test("the sign-in page", async ({ page }) => {
  await page.goto("/sign-in");
  await expectAccessible(page, "sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await expectAccessible(page, "sign-in with an error");
});

test("the sign-in page with single sign-on, and its refusal", async ({ page }) => {
  const { sso } = stack();
  // As the callback sends a refused user back: a fresh load with the reason in the fragment.
  await page.goto(`${sso.url}/sign-in#sso_error=unmapped`);
  await expect(page.getByRole("button", { name: `Sign in with ${sso.displayName}` })).toBeVisible();
  await expect(page.getByRole("alert")).toBeVisible();
  await expectAccessible(page, "sign-in with single sign-on and its refusal");
});

const pages: Array<[string, string, (page: Page) => Promise<void>]> = [
  ["/fleet", "fleet", async (p) => void (await expect(p.getByRole("row", { name: /DEMO-1/ })).toBeVisible())],
  ["/devices/DEMO/1", "device", async (p) => void (await expect(p.locator("figure.chart-card")).toHaveCount(2))],
  [
    "/devices/HIST/1?span=2592000000",
    "device, a month aggregated",
    async (p) => void (await expect(p.locator(".source-text")).toContainText("averages")),
  ],
  [
    "/admin/dead-letters?replayed=1",
    "dead letters, one inspected",
    async (p) => {
      await p
        .getByRole("button", { name: /Inspect/ })
        .first()
        .click();
      await expect(p.getByRole("button", { name: /Hide/ })).toBeVisible();
    },
  ],
  [
    "/admin/audit",
    "audit log, details open",
    async (p) => {
      await p.getByText("Show").first().click();
    },
  ],
  ["/admin/users", "users", async (p) => void (await expect(p.getByRole("row", { name: /nurse/ })).toBeVisible())],
  [
    "/account",
    "your account",
    async (p) => void (await expect(p.getByRole("heading", { name: "Change your password" })).toBeVisible()),
  ],
  ["/no/such/page", "not found", async (p) => void (await expect(p.getByText("There is no page")).toBeVisible())],
];

for (const [path, what, ready] of pages) {
  test(`${what} (${path})`, async ({ page }) => {
    await signIn(page, "admin", path);
    await ready(page);
    await expectAccessible(page, what);
  });
}

test("a page a plain user may not open, and the tablet layout", async ({ page }) => {
  await signIn(page, "user", "/admin/audit");
  await expect(page.getByRole("alert")).toBeVisible();
  await expectAccessible(page, "forbidden");
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.goto("/devices/DEMO/2");
  await expect(page.locator("figure.chart-card")).toHaveCount(2);
  await expectAccessible(page, "device on a tablet");
});

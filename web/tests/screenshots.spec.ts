import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "@playwright/test";
import { chart, expect, points, signIn, test } from "./fixtures.ts";

/**
 * Screenshots of the main pages for docs/console.md. `npm run docs:screenshots`
 * writes them into docs/console/; in `npm test` they go to web/test-results
 * (so a test run leaves the working tree clean) and are still made and checked.
 */
const dir = process.env.VIGIL_SCREENSHOTS_DIR
  ? join(fileURLToPath(new URL("../..", import.meta.url)), process.env.VIGIL_SCREENSHOTS_DIR)
  : fileURLToPath(new URL("../test-results/screenshots", import.meta.url));
mkdirSync(dir, { recursive: true });

async function shoot(page: Page, name: string) {
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, animations: "disabled" });
}

test("desktop", async ({ page }) => {
  await page.goto("/sign-in");
  await shoot(page, "sign-in");
  await signIn(page, "admin", "/fleet");
  await expect(page.getByRole("row", { name: /DEMO-1/ })).toContainText("Online");
  await shoot(page, "fleet");

  await page.goto("/devices/DEMO/1");
  await expect.poll(() => points(chart(page, "patient.heart_rate_bpm"))).toBeGreaterThan(100);
  await expect(page.getByRole("row", { name: /patient\.spo2_pct/ })).toBeVisible();
  await shoot(page, "device-live");

  await page.goto("/devices/ROB/1");
  await expect(page.locator(".source-text")).toContainText("averages");
  await expect.poll(() => points(chart(page, "joint5.sensor_3"))).toBeGreaterThan(20);
  await shoot(page, "device-20-sensors");

  await page.goto("/devices/HIST/1?span=2592000000");
  await expect(page.locator(".source-text")).toContainText("averages");
  await expect.poll(() => points(chart(page, "room.temperature_c"))).toBeGreaterThan(300);
  await shoot(page, "device-month-aggregated");

  await page.goto("/admin/dead-letters?replayed=1");
  await page
    .getByRole("button", { name: /Inspect/ })
    .last()
    .click();
  await shoot(page, "dead-letters");

  await page.goto("/admin/audit");
  await expect(page.getByRole("row").nth(1)).toBeVisible();
  await shoot(page, "audit-log");

  await page.goto("/admin/users");
  await expect(page.getByRole("row", { name: /nurse/ })).toBeVisible();
  await shoot(page, "users");
});

test("tablet", async ({ page }) => {
  await page.setViewportSize({ width: 768, height: 1024 });
  await signIn(page, "admin", "/fleet");
  await expect(page.getByRole("row", { name: /DEMO-1/ })).toContainText("Online");
  await shoot(page, "tablet-fleet");
  await page.goto("/devices/DEMO/2");
  await expect.poll(() => points(chart(page, "patient.spo2_pct"))).toBeGreaterThan(100);
  await shoot(page, "tablet-device");
});

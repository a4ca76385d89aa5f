import { test as base, expect, type Locator, type Page } from "@playwright/test";
import type { StackInfo } from "./stack.ts";

export { expect };

/** The running stack (global-setup.ts). */
export function stack(): StackInfo {
  const raw = process.env.VIGIL_STACK;
  if (!raw) throw new Error("VIGIL_STACK is not set: run through playwright.config.ts (global setup)");
  return JSON.parse(raw) as StackInfo;
}

/**
 * Every test runs against the stack, and fails if the page threw an
 * uncaught error or the browser blocked anything under the
 * Content-Security-Policy.
 */
export const test = base.extend({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads the fixtures a fixture uses from this pattern.
  baseURL: async ({}, use) => {
    await use(stack().url);
  },
  page: async ({ page }, use) => {
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
    await use(page);
    expect(problems, "errors in the page").toEqual([]);
  },
});

export async function signIn(page: Page, who: "admin" | "user", path = "/"): Promise<void> {
  const { username, password } = stack()[who];
  await page.goto(path);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
}

/** The session the console keeps (localStorage). */
export async function storedSession(page: Page): Promise<{ accessToken: string; refreshToken: string }> {
  return page.evaluate(() => JSON.parse(localStorage.getItem("vigil.session") ?? "{}"));
}

/** Calls the API as the signed-in user, from the page (same origin), with Connect-JSON. */
export async function callApi(
  page: Page,
  method: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const { accessToken } = await storedSession(page);
  return page.evaluate(
    async ([m, b, token]) => {
      const res = await fetch(`/${m}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(b),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    },
    [method, body, accessToken] as const,
  );
}

/** The chart of one sensor on a device page. */
export function chart(page: Page, sensor: string): Locator {
  return page.locator("figure.chart-card", { has: page.getByText(sensor, { exact: true }) }).locator(".chart");
}

/** Points the chart has drawn. */
export async function points(chartLocator: Locator): Promise<number> {
  return Number((await chartLocator.getAttribute("data-points")) ?? 0);
}

/** Time (ms) of the newest point the chart has drawn. */
export async function latest(chartLocator: Locator): Promise<number> {
  return Number((await chartLocator.getAttribute("data-latest")) || 0);
}

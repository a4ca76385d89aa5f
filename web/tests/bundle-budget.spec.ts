import { gzipSync } from "node:zlib";
import { expect, test } from "./fixtures.ts";

/** The budget for the JavaScript the first page (sign-in) loads, gzip-compressed. */
const BUDGET_BYTES = 300 * 1024;

test("the first page loads at most 300 KB of gzip-compressed JavaScript", async ({ page }) => {
  const scripts: Array<{ url: string; gzip: number }> = [];
  page.on("response", async (res) => {
    if (res.request().resourceType() !== "script") return;
    scripts.push({ url: res.url(), gzip: gzipSync(await res.body(), { level: 9 }).length });
  });
  await page.goto("/");
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await page.waitForLoadState("networkidle");
  const total = scripts.reduce((n, s) => n + s.gzip, 0);
  test.info().annotations.push({ type: "first-page-js-gzip-bytes", description: String(total) });
  console.log(`first page JavaScript: ${scripts.length} files, ${(total / 1024).toFixed(1)} KB gzip`);
  expect(scripts.length).toBeGreaterThan(0);
  expect(total).toBeLessThanOrEqual(BUDGET_BYTES);
});

test("served with a strict Content-Security-Policy and the right cache headers", async ({ page }) => {
  const doc = await page.request.get("/fleet");
  expect(doc.status()).toBe(200);
  const headers = doc.headers();
  expect(headers["content-security-policy"]).toContain("script-src 'self'");
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["content-security-policy"]).not.toContain("unsafe-inline");
  expect(headers["cache-control"]).toBe("no-cache");
  const html = await doc.text();
  const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(asset).toBeDefined();
  const js = await page.request.get(asset!, { headers: { "accept-encoding": "br, gzip" } });
  expect(js.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
  expect(js.headers()["content-type"]).toContain("javascript");
  // API paths are not swallowed by the console.
  const rpc = await page.request.post("/vigil.auth.v1.AuthService/Login", { data: {} });
  expect(rpc.headers()["content-type"]).toContain("application/json");
});

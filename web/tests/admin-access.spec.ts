import { callApi, chart, expect, points, signIn, test } from "./fixtures.ts";

test("a plain user sees no admin page, cannot open one, and the API refuses them too", async ({ page }) => {
  await signIn(page, "user");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const name of ["Dead letters", "Audit log", "Users"]) {
    await expect(nav.getByRole("link", { name })).toHaveCount(0);
  }
  for (const path of ["/admin/dead-letters", "/admin/audit", "/admin/users"]) {
    await page.goto(path);
    await expect(page.getByRole("alert")).toHaveText(/does not have access to this page/);
  }
  // The API answers the same whatever the page shows.
  const calls: Array<[string, unknown]> = [
    ["vigil.ingest.v1.DeadLetterService/ListDeadLetters", {}],
    ["vigil.ingest.v1.DeadLetterService/ReplayDeadLetter", { id: "1" }],
    ["vigil.audit.v1.AuditService/ListAuditLog", {}],
    ["vigil.auth.v1.AuthService/Register", { username: "mallory", password: "a-long-password-1", role: "ROLE_ADMIN" }],
    ["vigil.devices.v1.DeviceService/RotateDeviceKey", { code: "DEMO", number: 1 }],
  ];
  for (const [method, body] of calls) {
    const res = await callApi(page, method, body);
    expect(res.status, method).toBe(403);
    expect(res.json.code, method).toBe("permission_denied");
  }
});

test("a plain user watches a device's live charts, without its keys", async ({ page }) => {
  await signIn(page, "user", "/devices/DEMO/1");
  const heart = chart(page, "patient.heart_rate_bpm");
  await expect.poll(() => points(heart)).toBeGreaterThan(0);
  const before = await points(heart);
  await expect.poll(() => points(heart), { timeout: 10_000 }).toBeGreaterThan(before);
  await expect(page.getByRole("heading", { name: "API keys" })).toHaveCount(0);
});

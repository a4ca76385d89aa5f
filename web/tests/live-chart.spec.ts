import { chart, expect, latest, points, signIn, stack, test } from "./fixtures.ts";
import { ROBOT_SENSORS } from "./stack-devices.ts";

test("a device's live chart receives new points", async ({ page }) => {
  await signIn(page, "admin", "/devices/DEMO/1");
  const heart = chart(page, "patient.heart_rate_bpm");
  await expect.poll(() => points(heart)).toBeGreaterThan(0);
  const before = await points(heart);
  await expect(page.locator(".live-text")).toHaveText("Live");
  await expect(page.locator(".source-text")).toHaveText("Every reading");
  // The device sends a batch of 10 readings per sensor every second.
  await expect.poll(() => points(heart), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 10);
  await expect(page.getByRole("row", { name: /patient\.spo2_pct/ })).toBeVisible();
});

test("twenty sensors at 10 Hz: every chart keeps receiving", async ({ page }) => {
  await signIn(page, "admin", "/devices/ROB/1");
  await expect(page.locator("figure.chart-card")).toHaveCount(ROBOT_SENSORS.length);
  // 200 readings a second: five minutes are drawn as 1 s aggregates that the live readings fill.
  await expect(page.locator(".source-text")).toContainText("1 s averages");
  await expect.poll(() => latest(chart(page, ROBOT_SENSORS.at(-1)!))).toBeGreaterThan(0);
  const first = await Promise.all(ROBOT_SENSORS.map((s) => latest(chart(page, s))));
  await page.waitForTimeout(3_000);
  const later = await Promise.all(ROBOT_SENSORS.map((s) => latest(chart(page, s))));
  for (let i = 0; i < ROBOT_SENSORS.length; i++) {
    expect(later[i]! - first[i]!, ROBOT_SENSORS[i]).toBeGreaterThanOrEqual(2_000);
  }

  // Zoomed in to 75 s, every reading is drawn: ten more a second on each chart.
  await page.getByRole("button", { name: "Zoom in" }).click();
  await page.getByRole("button", { name: "Zoom in" }).click();
  await expect(page.locator(".source-text")).toHaveText("Every reading");
  const sensor = chart(page, ROBOT_SENSORS[7]!);
  await expect.poll(() => points(sensor)).toBeGreaterThan(500);
  // The window slides: old points leave as new ones come, so it never holds more than 75 s of
  // readings (a late batch may arrive in a burst on a busy machine, so no rate is asserted).
  await page.waitForTimeout(2_000);
  expect(await points(sensor)).toBeLessThanOrEqual(75 * 10 + 50);
  expect(await latest(sensor)).toBeGreaterThan(Date.now() - 3_000);
});

test("zooming from minutes to a month switches between every reading and aggregates by itself", async ({ page }) => {
  await signIn(page, "admin", "/devices/HIST/1");
  const temperature = chart(page, "room.temperature_c");
  // Five minutes: no readings in the last ten minutes, so an honest empty chart.
  await expect(page.getByText("No readings in this range yet")).toBeVisible();

  // An hour: the device's last fifty minutes or so, one reading a minute, each one drawn.
  await page.getByRole("button", { name: "1 h", exact: true }).click();
  await expect(page.locator(".source-text")).toHaveText("Every reading");
  await expect.poll(() => points(temperature)).toBeGreaterThan(30);
  expect(await points(temperature)).toBeLessThanOrEqual(60);

  // A month is 43,200 readings: drawn as 2-hour aggregates instead.
  await page.getByRole("button", { name: "30 days", exact: true }).click();
  await expect(page.locator(".source-text")).toContainText("2 h averages with min–max band");
  await expect.poll(() => points(temperature)).toBeGreaterThan(300);
  expect(await points(temperature)).toBeLessThanOrEqual(362);
  await expect(page.getByRole("row", { name: /room\.temperature_c/ })).toContainText(/4[23],\d{3}/);

  // Drag across a sixth of the chart: about five days, 7,000 readings, each one drawn again.
  const box = (await temperature.locator(".u-over").boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.56, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect(page).toHaveURL(/from=\d+&to=\d+/);
  await expect(page.locator(".live-text")).toHaveText("A past range: not live");
  await expect(page.locator(".source-text")).toHaveText("Every reading");
  await expect.poll(() => points(temperature)).toBeGreaterThan(5_000);

  // Four times wider is too many again: aggregates.
  await page.getByRole("button", { name: "Zoom out" }).click();
  await page.getByRole("button", { name: "Zoom out" }).click();
  await expect(page.locator(".source-text")).toContainText("averages with min–max band");
  expect(stack().historyReadings).toBe(43_200);
});

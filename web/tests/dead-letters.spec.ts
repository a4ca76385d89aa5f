import { callApi, expect, signIn, stack, test } from "./fixtures.ts";

test("an admin inspects dead letters and replays the one that can be stored", async ({ page }) => {
  await signIn(page, "admin", "/admin/dead-letters");
  const rows = page.getByRole("row", { name: /DL-1/ });
  await expect(rows).toHaveCount(2);

  // Refused on arrival: the reason and the problems the device was told; replaying fails the same way.
  const refused = page.getByRole("row", { name: /receiver/ });
  await refused.getByRole("button", { name: /Inspect/ }).click();
  await expect(page.getByRole("heading", { name: "Problems found" })).toBeVisible();
  await expect(page.getByText(/finite/).first()).toBeVisible();
  await page.getByRole("button", { name: /Replay dead letter/ }).click();
  await expect(page.getByRole("alert")).toContainText("Replay refused");
  await refused.getByRole("button", { name: /Hide/ }).click();

  // Could not be stored: a valid batch, stored on replay.
  const stranded = page.getByRole("row", { name: /writer/ });
  await stranded.getByRole("button", { name: /Inspect/ }).click();
  await page.getByRole("button", { name: /Replay dead letter/ }).click();
  await expect(page.getByRole("status").filter({ hasText: "replayed" })).toContainText(
    `${stack().deadLetterReadings} readings`,
  );
  await expect(page.getByRole("row", { name: /writer/ })).toHaveCount(0);
  await expect
    .poll(async () => {
      const res = await callApi(page, "vigil.readings.v1.ReadingService/ListReadings", {
        filter: { deviceCode: "DL", deviceNumber: 1 },
        pageSize: 1,
      });
      return Number(res.json.totalSize ?? 0);
    })
    .toBe(stack().deadLetterReadings);

  // The box follows the URL (?replayed=1), which the router updates a moment after the click:
  // click, then wait for the state, rather than check() which wants it changed at once.
  const includeReplayed = page.getByLabel("Include replayed");
  await includeReplayed.click();
  await expect(includeReplayed).toBeChecked();
  await expect(page.getByRole("row", { name: /writer/ })).toContainText("Replayed");

  await page.goto("/admin/audit?action=dead_letter.replay");
  await expect(page.getByRole("row", { name: /dead_letter\.replay/ })).toHaveCount(1);
});

// The upload and its preview on a phone (issue 14, point 7): 390 px and a touch screen. The drop
// zone asks to choose (there is nothing to drop), and each column of the sheet is a card with where
// it goes, its type and the key under its name: nothing off to the side.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

test("on a phone the preview fits: choose a file, every column a card", async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-phone-"));
  const file = join(dir, "Field visits.csv");
  writeFileSync(file, "Visit id,Site name,Visited on,Samples taken,Notes\n1,North ridge,2024-03-05,12,windy\n2,Lake shore,2024-03-06,7,\n");
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.getByText("Choose a spreadsheet")).toBeVisible();
  await expect(page.getByText("Drop a spreadsheet here, or choose a file")).toBeHidden();
  await page.locator('input[type="file"]').setInputFiles(file);
  await expect(page.locator("button.start")).toHaveText("Import 2 rows", { timeout: 30_000 });

  const cards = page.locator("table.mapping tbody tr[data-column]");
  await expect(cards).toHaveCount(5);
  for (const field of ["input.rename", "select.retype", "input.key"]) {
    const box = await cards.nth(4).locator(field).boundingBox();
    expect(box, field).not.toBeNull();
    expect(box!.x + box!.width, `${field} inside the screen`).toBeLessThanOrEqual(390);
  }
  await expect(cards.nth(2).locator('td[data-label="Type"]')).toBeVisible();
  // The last card is whole: not cut off by a scroll region's height.
  const last = cards.nth(4);
  await last.scrollIntoViewIfNeeded();
  const region = await page.locator(".column-map .table-scroll").boundingBox();
  const lastBox = await last.boundingBox();
  expect(lastBox!.y + lastBox!.height).toBeLessThanOrEqual(region!.y + region!.height + 1);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: test.info().outputPath("preview-phone.png"), fullPage: true });
});

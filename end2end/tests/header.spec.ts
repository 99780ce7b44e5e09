// A sheet with a title block above its header and a totals row below its data: the preview finds
// the header row and says so, the person picks another row and then none, asks to stop at the
// first empty row, and the import reads exactly what the preview showed.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("the header row is found below a title, can be changed, and a totals block left out", async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-header-"));
  const file = join(dir, "Quarterly sales.csv");
  writeFileSync(file, "Quarterly sales,,\nMade by finance,,\n,,\nRegion,Units,Price\nnorth,3,1.5\nsouth,5,2.5\n,,\nTotal,8,\n");
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);

  const header = page.getByLabel("Column names are in");
  await expect(header).toHaveValue("4", { timeout: 30_000 });
  const preview = page.locator(".preview-table");
  await expect(preview.locator("thead th").first()).toContainText("region");
  await expect(preview.locator("tbody tr")).toHaveCount(3); // north, south, Total
  // The button counts what the import will read: not the title rows, the header or blank rows.
  const start = page.locator("button.start");
  await expect(start).toHaveText("Import 3 rows");
  await page.screenshot({ path: "test-results/header-found.png", fullPage: true });

  await header.selectOption("none");
  await expect(preview.locator("thead th").first()).toContainText("column_1");
  await expect(preview.locator("tbody tr")).toHaveCount(6);
  await expect(start).toHaveText("Import 6 rows");
  await header.selectOption("4");
  await expect(preview.locator("thead th").first()).toContainText("region");

  await page.getByLabel("Stop at the first empty row").check();
  await expect(preview.locator("tbody tr")).toHaveCount(2);
  await expect(header).toHaveValue("4");
  await expect(start).toHaveText("Import 2 rows");
  await page.screenshot({ path: "test-results/header-stop.png", fullPage: true });
  await start.click();
  const card = page.locator(".progress-card");
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(page.locator(".rows-done")).toHaveText("2 / 2");
});

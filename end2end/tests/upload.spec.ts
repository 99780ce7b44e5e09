// A person uploads a generated spreadsheet through the page, watches the import's progress bar
// move and reach 100%, and browses the table it made.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Enough rows that the import lasts while the page samples its bar (the engine does 1–2M rows/s).
const ROWS = 1_000_000;

function csv(rows: number): string {
  const lines = ["ID,Amount,Name,Joined,Active"];
  for (let i = 1; i <= rows; i++) {
    const day = String((i % 28) + 1).padStart(2, "0");
    lines.push(`${i},${(i * 1.25).toFixed(2)},name ${i},2024-03-${day},${i % 2 === 0}`);
  }
  return lines.join("\n") + "\n";
}

test("upload, live progress to 100%, then the table", async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-upload-"));
  const file = join(dir, "Customers 2024.csv");
  writeFileSync(file, csv(ROWS));

  // The Content-Security-Policy lets the page do all it does: not one violation on the way.
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content[- ]Security[- ]Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);

  // Before anything is imported, the page shows the columns, their inferred types and first rows.
  const preview = page.locator(".preview-table");
  await expect(preview.locator("thead th")).toHaveCount(5, { timeout: 30_000 });
  await expect(preview.locator("thead th").nth(3)).toContainText("joined");
  await expect(preview.locator("thead th").nth(3)).toContainText("date");
  await expect(preview.locator("tbody tr").first().locator("td")).toHaveText(["1", "1.25", "name 1", "2024-03-02", "false"]);
  await page.screenshot({ path: "test-results/preview.png", fullPage: true });
  await page.locator("button.start").click();

  const bar = page.locator('progress[aria-label="Rows read of the total"]');
  await expect(bar).toBeVisible({ timeout: 30_000 });
  // Sample the bar while the job runs: it must show values between 0 and 100 before the end.
  const seen = new Set<number>();
  const card = page.locator(".progress-card");
  for (let i = 0; i < 1200; i++) {
    const value = Number((await bar.getAttribute("value")) ?? "0");
    seen.add(value);
    if ((await card.getAttribute("data-status")) === "succeeded") break;
    await page.waitForTimeout(50);
  }
  await expect(card).toHaveAttribute("data-status", "succeeded");
  await expect(bar).toHaveAttribute("value", "100.00");
  const partial = [...seen].filter((v) => v > 0 && v < 100);
  expect(partial.length, `intermediate values seen: ${[...seen].join(", ")}`).toBeGreaterThan(0);
  await expect(page.locator(".rows-done")).toHaveText(`1,000,000 / 1,000,000`);
  await page.screenshot({ path: "test-results/import-done.png", fullPage: true });

  await page.getByRole("link", { name: "Browse the table" }).click();
  await expect(page).toHaveURL(/\/tables\/customers_2024$/);
  await expect(page.locator(".table-meta")).toHaveText("Rows 1–50 of 1,000,000");
  const firstRow = page.locator("table.rows tbody tr").first();
  await expect(firstRow.locator("td")).toHaveText(["1", "1", "1.25", "name 1", "2024-03-02", "false"]);
  await page.screenshot({ path: "test-results/table.png", fullPage: true });
  expect(violations).toEqual([]);
});

test("a file that is not a spreadsheet gets a plain-words error", async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-upload-"));
  const file = join(dir, "photo.xlsx");
  writeFileSync(file, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);
  await expect(page.getByRole("alert")).toContainText("not a spreadsheet");
});

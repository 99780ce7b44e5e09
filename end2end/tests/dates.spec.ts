// Issue 28, points 4 and 5 in the page: a column of dates that could be read day first or month
// first holds the Import button until the person says which (nothing is guessed); the answer is
// read as said; the same file chosen again is named as already imported, before anything starts.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { axeFindings } from "./axe";

test("ambiguous dates are asked about, read as answered, and the same file again is named", async ({ page }) => {
  const table = `sold_${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "sheetport-dates-"));
  const file = join(dir, "week 49.csv");
  // Every date fits both orders but one, in the last column: that one decides its column.
  writeFileSync(file, "Sold on,Units,Paid on\n03/04/2024,1,01/02/2024\n04/03/2024,2,25/02/2024\n05/06/2024,3,02/03/2024\n");

  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);
  await page.getByLabel("Table name").fill(table);
  await page.getByLabel("Table name").press("Tab");
  const notes = page.locator(".date-notes li");
  await expect(notes).toHaveCount(2, { timeout: 30_000 });
  await expect(notes.nth(0)).toHaveText(
    '3 of the 3 dates in "Sold on" could be day/month or month/day (03/04/2024 in row 2: 3 April or 4 March?), and none says which. Choose how they are written.',
  );
  await expect(notes.nth(1)).toContainText('The dates in "Paid on" are read as day/month/year: 25/02/2024 in row 3 has no month 25.');
  // The decided column is preset (and typed as dates); the other waits for the person.
  await expect(page.getByLabel("How the dates in Paid on are written")).toHaveValue("%d/%m/%Y");
  await expect(page.getByLabel("Type of Paid on")).toHaveValue("date");
  const sold = page.getByLabel("How the dates in Sold on are written");
  await expect(sold).toHaveValue("");
  await expect(page.locator(".problems li")).toContainText(["Choose how the dates in Sold on are written"]);
  const start = page.locator("button.start");
  await expect(start).toBeDisabled();
  expect(await axeFindings(page)).toEqual([]);
  await page.screenshot({ path: "test-results/dates-question.png", fullPage: true });
  // On a phone the question fits the card, nothing off to the side.
  await page.setViewportSize({ width: 390, height: 844 });
  const box = await sold.boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 390, `the question at ${JSON.stringify(box)}`).toBeTruthy();
  expect(await axeFindings(page)).toEqual([]);
  await page.screenshot({ path: "test-results/dates-question-390.png", fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });

  // Month first, with the keyboard's select: the button is free, and the dates are read so.
  await sold.selectOption("%m/%d/%Y");
  await expect(page.getByLabel("Type of Sold on")).toHaveValue("date");
  await expect(page.locator(".problems li")).toHaveCount(0);
  await expect(start).toBeEnabled();
  await start.click();
  const card = page.locator(".progress-card");
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  const rows = await (await page.request.get(`/api/tables/${table}/rows?limit=10`)).json();
  expect(rows.rows.map((r: unknown[]) => [r[0], r[2]])).toEqual([
    ["2024-03-04", "2024-02-01"],
    ["2024-04-03", "2024-02-25"],
    ["2024-05-06", "2024-03-02"],
  ]);

  // The same file again: named as imported, with a link to that import, before anything starts.
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);
  const already = page.locator(".already-imported");
  await expect(already).toContainText(`This file was already imported into the table "${table}" on `, { timeout: 30_000 });
  await expect(already).toContainText('(from "week 49.csv")');
  const link = already.getByRole("link", { name: "See that import" });
  await expect(link).toHaveAttribute("href", /^\/imports\/[0-9a-f]{32}$/);
  await page.screenshot({ path: "test-results/dates-already-imported.png", fullPage: true });
});

// The importer's whole road in the page (issue 13): the messy LibreOffice workbook is dropped, its
// header row found below the title block, a column renamed and another retyped (a date typed as
// "15/04/2024" then cannot go in and is left out, with its sheet row in the list and in the CSV
// report); a week later a CSV of changes goes into that same table: its columns are matched (the
// renamed one as last time), upserted by the key, and the counts say what the rows did.
import { expect, test } from "@playwright/test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { axeFindings } from "./axe";

const messy = resolve(__dirname, "../../tests/fixtures/messy/messy.libreoffice.xlsx");

test("a messy workbook is mapped, retyped and keyed, then a week's changes are upserted into it", async ({ page }) => {
  const table = `sales_${Date.now().toString(36)}`;
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(messy);

  await expect(page.getByLabel("Column names are in")).toHaveValue("4", { timeout: 30_000 });
  await page.getByLabel("Stop at the first empty row").check();
  await expect(page.locator(".preview-table tbody tr")).toHaveCount(4);
  await page.getByLabel("Table name").fill(table);
  await page.getByLabel("Table name").press("Tab");
  const map = page.locator(".column-map");
  await expect(map.locator("tr[data-column=code]")).toBeVisible();
  await page.getByLabel("Column name for Code").fill("sku");
  await page.getByLabel("Code is part of the key").check();
  await page.getByLabel("Type of Sold on").selectOption("date");
  await page.getByLabel("Rows with a value their column cannot take").selectOption("skip");
  await page.screenshot({ path: "test-results/mapping-new-table.png", fullPage: true });
  await page.locator("button.start").click();

  const card = page.locator(".progress-card");
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(card.locator(".rejected")).toHaveText("1");
  await expect(card.locator(".counts")).toHaveText("3 new, 0 updated, 0 unchanged, 1 left out.");
  const errors = card.locator(".errors-table tbody tr");
  await expect(errors).toHaveCount(1);
  await expect(errors.first()).toContainText("8");
  await expect(errors.first()).toContainText("15/04/2024");
  await expect(errors.first()).toContainText("is not a date");
  const [download] = await Promise.all([page.waitForEvent("download"), card.locator(".download-errors").click()]);
  const report = readFileSync(await download.path(), "utf8").split("\r\n");
  expect(report[0]).toBe("row,column,value,reason");
  expect(report[1]).toMatch(/^8,Sold on,15\/04\/2024,is not a date/);
  await page.screenshot({ path: "test-results/mapping-rejected.png", fullPage: true });

  // A week later: the changes, as a CSV, into the same table.
  const dir = mkdtempSync(join(tmpdir(), "sheetport-mapping-"));
  const changes = join(dir, "sales changes.csv");
  writeFileSync(
    changes,
    "Code,Region,,Sold on,Units,Price\n00501,EMEA,Paris,2024-01-31,4,1.5\n01003,APAC,Tokyo,2024-03-15,7,0.99\n20001,AMER,Quito,2024-05-01,1,3\n",
  );
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(changes);
  await expect(page.getByLabel("Column names are in")).toHaveValue("1", { timeout: 30_000 });
  await page.getByLabel("Table name").fill(table);
  await page.getByLabel("Table name").press("Tab");
  await expect(page.locator(".table-exists")).toContainText(`A table named ${table} already exists`);
  await page.getByLabel("If the table exists").selectOption("upsert");
  // Matched by name, and "Code" into sku as the last import into this table did; sku is the key.
  await expect(page.getByLabel("Table column for Code")).toHaveValue("sku");
  await expect(page.getByLabel("Table column for Sold on")).toHaveValue("sold_on");
  await expect(page.getByLabel("Code is part of the key")).toBeChecked();
  await expect(page.locator(".problems li")).toHaveCount(0);
  // Into a table that exists, the import stops for a review unless the person says otherwise.
  await expect(page.getByLabel("Show me what would change before anything is written (review)")).toBeChecked();
  await expect(page.locator("button.start")).toHaveText("Review 3 rows");
  await page.screenshot({ path: "test-results/mapping-existing-table.png", fullPage: true });
  await page.locator("button.start").click();
  await expect(card).toHaveAttribute("data-status", "review", { timeout: 60_000 });
  const review = card.locator(".review");
  await expect(review.locator(".inserted")).toHaveText("1 row new");
  await expect(review.locator(".updated")).toHaveText("1 row changed: units (1 cell)");
  await expect(review.locator(".unchanged")).toHaveText("1 row already as in the file");
  // Nothing is written yet.
  const before = await (await page.request.get(`/api/tables/${table}/rows?limit=10`)).json();
  expect(before.total).toBe(3);
  // The changed row: the table's value struck out, the file's beside it.
  await review.getByRole("button", { name: /^Changed/ }).click();
  await expect(review.getByRole("button", { name: /^Changed/ })).toHaveAttribute("aria-pressed", "true");
  const changed = review.locator("tbody tr");
  await expect(changed).toHaveCount(1);
  await expect(changed.locator("td.changed del")).toHaveText("3");
  await expect(changed.locator("td.changed ins")).toHaveText("4");
  expect(await axeFindings(page)).toEqual([]);
  // docs/screenshots/review-1280.png is a copy of this one, from a run on SQLite.
  await page.screenshot({ path: "test-results/review-1280.png", fullPage: true });
  // Committed with the keyboard.
  await review.locator("button.commit").focus();
  await page.keyboard.press("Enter");
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(card.locator(".counts")).toHaveText("1 new, 1 updated, 1 unchanged, 0 left out.");
  await page.screenshot({ path: "test-results/mapping-upserted.png", fullPage: true });

  const rows = await page.request.get(`/api/tables/${table}/rows?limit=10`);
  expect(rows.status()).toBe(200);
  const body = await rows.json();
  expect(body.total).toBe(4);
  const byCode = Object.fromEntries(body.rows.map((r: unknown[]) => [r[0], r]));
  expect(byCode["00501"][4]).toBe(4);
  expect(byCode["20001"][1]).toBe("AMER");

  // The upsert can be undone: the history says what that does, and the changed cell gets its
  // earlier value back while the new row goes.
  const listed = await (await page.request.get(`/api/imports?table=${table}&limit=1`)).json();
  const id = listed[0].id;
  await page.goto(`/imports?table=${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator(`tr[data-id="${id}"]`).getByRole("button", { name: "Undo" }).click();
  const asked = page.locator(`tr.confirm-row[data-for="${id}"]`);
  await expect(asked).toContainText(
    `the rows this import changed in table ${table} will get their earlier values back, and the rows it added will be deleted`,
  );
  expect(await axeFindings(page)).toEqual([]);
  await asked.getByRole("button", { name: "Undo the import" }).click();
  await expect(page.getByRole("status")).toContainText(`Undone: table ${table} is as it was before that import.`);
  const back = await (await page.request.get(`/api/tables/${table}/rows?limit=10`)).json();
  expect(back.total).toBe(3);
  expect(Object.fromEntries(back.rows.map((r: unknown[]) => [r[0], r]))["00501"][4]).toBe(3);
});

// Issue 28, point 2 in the page: a person reviews an upsert whose file has bad quantities, fixes two
// rejected cells with the keyboard only (the grid: one tab stop, arrow keys, Enter or F2 to edit,
// Escape to cancel, Enter to save), replaces every "n/a" at once, and commits; the table holds
// exactly the fixed rows. axe-core finds nothing serious in the review and its grid, light and dark,
// at 1280 and 390 px. docs/screenshots/review-fix-1280.png and -390.png are copies of this test's
// screenshots, from a run on SQLite.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { axeFindings } from "./axe";

test("rejected rows of a review are fixed in its grid with the keyboard, then committed", async ({ page, request }) => {
  const table = `stock_${Date.now().toString(36)}`;
  const base = test.info().project.use.baseURL!;
  const made = await request.post("/api/imports", {
    headers: { origin: base },
    multipart: {
      file: { name: "stock.csv", mimeType: "text/csv", buffer: Buffer.from("id,name,qty\n1,Ann,10\n2,Bob,20\n3,Cy,30\n") },
      table,
      key: "id",
    },
  });
  expect(made.status()).toBe(202);
  const { id: first } = await made.json();
  await expect.poll(async () => (await (await request.get(`/api/imports/${first}`)).json()).status).toBe("succeeded");

  // Row 2 changes Ann's quantity; rows 3 and 4 have quantities no one can read; rows 5-7 say "n/a".
  const dir = mkdtempSync(join(tmpdir(), "sheetport-fix-"));
  const file = join(dir, "stock week 50.csv");
  writeFileSync(file, "id,name,qty\n1,Ann,11\n2,Bob,twenty\n4,Dee,12 pcs\n5,Eve,n/a\n6,Fay,n/a\n7,Gus,n/a\n");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);
  await page.getByLabel("Table name").fill(table);
  await page.getByLabel("Table name").press("Tab");
  await page.getByLabel("If the table exists").selectOption("upsert");
  await expect(page.getByLabel("id is part of the key")).toBeChecked();
  await expect(page.getByLabel("Show me what would change before anything is written (review)")).toBeChecked();
  await page.locator("button.start").click();

  const card = page.locator(".progress-card");
  await expect(card).toHaveAttribute("data-status", "review", { timeout: 60_000 });
  const review = card.locator(".review");
  await expect(review.locator(".updated")).toHaveText("1 row changed: qty (1 cell)");
  await expect(review.locator(".rejected")).toHaveText("5 rows left out: 5 to fix or skip (listed below)");
  const grid = review.getByRole("grid", { name: "Rejected rows to fix" });
  await expect(grid.locator("tbody tr")).toHaveCount(5);
  await expect(grid.locator("tbody tr").first()).toContainText("Row 3");
  await expect(grid.locator("tbody tr").first()).toContainText("twenty");
  await expect(grid.locator("tbody tr").first()).toContainText("is not a whole number");
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeFindings(page)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.screenshot({ path: "test-results/review-fix-1280.png", fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeFindings(page)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.screenshot({ path: "test-results/review-fix-390.png", fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // Keyboard only from here: one Tab from the download link lands on the grid's one tab stop, the
  // first value; its row, column and reason are what a screen reader hears with it.
  await review.locator("a.download-diff").focus();
  await page.keyboard.press("Tab");
  const focused = page.locator(":focus");
  await expect(focused).toHaveText("twenty");
  await expect(focused).toHaveAttribute("role", "gridcell");
  const described = (await focused.getAttribute("aria-describedby"))!.split(" ");
  await expect(page.locator(`[id="${described[0]}"]`)).toHaveText("qty");
  await expect(page.locator(`[id="${described[1]}"]`)).toHaveText("is not a whole number");
  // Arrow keys move; Home goes to the row's header.
  await page.keyboard.press("ArrowDown");
  await expect(focused).toHaveText("12 pcs");
  await page.keyboard.press("Home");
  await expect(focused).toHaveText("Row 4");
  await page.keyboard.press("End");
  await expect(focused).toHaveText("Skip row");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowUp");
  await expect(focused).toHaveText("twenty");

  // Enter edits; Escape cancels and nothing changes.
  await page.keyboard.press("Enter");
  await expect(focused).toHaveAttribute("id", "reject-edit");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("oops");
  await page.keyboard.press("Escape");
  const message = review.locator(".reject-message");
  await expect(message).toHaveText("Not changed.");
  await expect(focused).toHaveText("twenty");
  // Enter again, a number, Enter: the row passes (Bob's row is in the table: an update).
  await page.keyboard.press("Enter");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("21");
  await page.keyboard.press("Enter");
  await expect(message).toHaveText("Row 3 passes now: it will change a row of the table.");
  await expect(grid.locator("tbody tr")).toHaveCount(4);
  await expect(review.locator(".updated")).toHaveText("2 rows changed: qty (2 cells)");
  // The focus stays in the grid, on the next row's value; F2 edits too.
  await expect(focused).toHaveText("12 pcs");
  await page.keyboard.press("F2");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("12");
  await page.keyboard.press("Enter");
  await expect(message).toHaveText("Row 4 passes now: it will be added to the table.");
  await expect(review.locator(".inserted")).toHaveText("1 row new");
  await expect(grid.locator("tbody tr")).toHaveCount(3);

  // Every "n/a" at once: read as empty.
  const group = review.locator(".reject-group").filter({ hasText: "is not a whole number" });
  await expect(group).toContainText("3 rows: “qty” is not a whole number.");
  await group.getByLabel("Read “n/a” (3 rows) as").fill("");
  await group.getByRole("button", { name: "Apply to every equal value" }).click();
  await expect(message).toContainText("\"n/a\" → empty in \"qty\": 3 rows pass now.");
  await expect(review.locator(".inserted")).toHaveText("4 rows new");
  await expect(review.locator(".rejected")).toHaveCount(0);
  await expect(review.locator(".rejects .note")).toHaveText("No rejected row is left to fix.");
  expect(await axeFindings(page)).toEqual([]);

  // Committed with the keyboard: exactly the reviewed and fixed rows go in.
  await review.locator("button.commit").focus();
  await page.keyboard.press("Enter");
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  await expect(card.locator(".counts")).toHaveText("4 new, 2 updated, 0 unchanged, 0 left out.");
  const rows = await (await request.get(`/api/tables/${table}/rows?limit=10`)).json();
  expect(rows.rows.sort((a: number[], b: number[]) => a[0] - b[0])).toEqual([
    [1, "Ann", 11],
    [2, "Bob", 21],
    [3, "Cy", 30],
    [4, "Dee", 12],
    [5, "Eve", null],
    [6, "Fay", null],
    [7, "Gus", null],
  ]);
});

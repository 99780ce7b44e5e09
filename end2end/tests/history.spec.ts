// The history you can act on (issue 14, point 2): when, mode and status of each import, a failure's
// reason on one line, the filter by status and table, undo with its confirmation, run again, delete.
import { type APIRequestContext, expect, test } from "@playwright/test";
import { axeFindings } from "./axe";

async function importCsv(request: APIRequestContext, table: string, text: string, mode = "create") {
  const base = test.info().project.use.baseURL!;
  const response = await request.post("/api/imports", {
    headers: { origin: base },
    multipart: { file: { name: `${table}.csv`, mimeType: "text/csv", buffer: Buffer.from(text) }, table, mode },
  });
  expect(response.status()).toBe(202);
  const { id } = await response.json();
  await expect.poll(async () => (await (await request.get(`/api/imports/${id}`)).json()).status).not.toMatch(/queued|running/);
  return id as string;
}

test("the history filters, undoes after asking, runs again and deletes", async ({ page, request }) => {
  const table = `hist_${Date.now()}`;
  const first = await importCsv(request, table, "id,name\n1,Ann\n2,Bob\n");
  const appended = await importCsv(request, table, "id,name\n3,Cy\n", "append");
  const failed = await importCsv(request, table, "id,name\n4,Dee\n");

  await page.goto(`/imports?table=${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const rows = page.locator("table.imports tbody tr[data-id]");
  await expect(rows).toHaveCount(3);
  // Newest first, with when (relative, exact on hover), mode and status; the failure's reason.
  const failedRow = page.locator(`tr[data-id="${failed}"]`);
  await expect(failedRow.locator("time")).toHaveText("just now");
  await expect(failedRow.locator("time")).toHaveAttribute("title", /^\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  await expect(failedRow.locator(".badge")).toHaveText("Failed");
  await expect(failedRow.locator(".reason")).toContainText("already exists");
  await expect(page.locator(`tr[data-id="${appended}"] td`).nth(3)).toHaveText("Append");

  // The filter is the URL's query: status "Failed" leaves the one failure.
  await page.locator('select[name="status"]').selectOption("failed");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page).toHaveURL(/status=failed/);
  await expect(rows).toHaveCount(1);
  await page.getByRole("link", { name: "Show all" }).click();
  await expect(page).toHaveURL(/\/imports$/);

  // Only the last success into the table offers an undo; it asks first, and "Keep it" keeps it.
  await page.goto(`/imports?table=${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator(`tr[data-id="${first}"] button.undo`)).toHaveCount(0);
  const appendRow = page.locator(`tr[data-id="${appended}"]`);
  const asked = (id: string) => page.locator(`tr.confirm-row[data-for="${id}"]`);
  await appendRow.getByRole("button", { name: "Undo" }).click();
  await expect(asked(appended)).toContainText(`the rows this import added to table ${table} will be deleted`);
  expect(await axeFindings(page)).toEqual([]);
  await asked(appended).getByRole("button", { name: "Keep it" }).click();
  await expect(asked(appended)).toHaveCount(0);
  await appendRow.getByRole("button", { name: "Undo" }).click();
  await asked(appended).getByRole("button", { name: "Undo the import" }).click();
  await expect(page.getByRole("status")).toContainText(`Undone: table ${table} is as it was before that import.`);
  await expect(appendRow.locator(".badge")).toHaveText("Undone");
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    expect(await axeFindings(page)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
  const rowsLeft = await (await request.get(`/api/tables/${table}/rows`)).json();
  expect(rowsLeft.total).toBe(2);
  // Now the create is the last success, and offers to drop what it made.
  await page.locator(`tr[data-id="${first}"]`).getByRole("button", { name: "Undo" }).click();
  await expect(asked(first)).toContainText("will be deleted, as it did not exist before this import");
  await asked(first).getByRole("button", { name: "Keep it" }).click();

  // Delete asks first too; the record goes, the table stays.
  await failedRow.getByRole("button", { name: "Delete" }).click();
  await asked(failed).getByRole("button", { name: "Delete" }).click();
  await expect(page.getByRole("status")).toContainText("record and file were deleted");
  await expect(rows).toHaveCount(2);
  expect((await request.get(`/api/imports/${failed}`)).status()).toBe(404);

  // Run again opens the new import, which follows the same choices.
  await appendRow.getByRole("button", { name: "Run again" }).click();
  await expect(page).toHaveURL(/\/imports\/[0-9a-f]{32}$/);
  await expect(page.locator(".outcome.success")).toContainText(`Imported 1 row into table ${table}`);
});

test("on a phone the history is cards: every field under its name, nothing off to the side", async ({ page, request }) => {
  const table = `phone_${Date.now()}`;
  const id = await importCsv(request, table, "id,name\n1,Ann\n");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`/imports?table=${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const card = page.locator(`tr[data-id="${id}"]`);
  for (const label of ["When", "File", "Table", "Mode", "Status", "Rows", "Took"]) {
    await expect(card.locator(`td[data-label="${label}"]`)).toBeVisible();
  }
  await expect(card.getByRole("button", { name: "Undo" })).toBeInViewport();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.screenshot({ path: test.info().outputPath("imports-phone.png"), fullPage: true });
});

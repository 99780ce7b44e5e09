// The table browser (issue 14, point 3): sort by a header, search on the server, jump to a row,
// past the end, the view's export link; axe-core on it; at 390 px the row number stays in view; a
// search on a large table offers a search index.
import { type APIRequestContext, expect, test } from "@playwright/test";
import { axeFindings } from "./axe";

async function importCsv(request: APIRequestContext, table: string, text: string) {
  const base = test.info().project.use.baseURL!;
  const response = await request.post("/api/imports", {
    headers: { origin: base },
    multipart: { file: { name: `${table}.csv`, mimeType: "text/csv", buffer: Buffer.from(text) }, table },
  });
  expect(response.status()).toBe(202);
  const { id } = await response.json();
  await expect.poll(async () => (await (await request.get(`/api/imports/${id}`)).json()).status).toBe("succeeded");
}

test("a table sorts by its headers, searches, jumps to a row and says where it ends", async ({ page, request }) => {
  const table = `trees_${Date.now()}`;
  const rows = ["Name,Height,Planted"];
  for (let i = 1; i <= 120; i++) rows.push(`${i % 7 === 0 ? "oak" : "birch"} ${i},${(i * 37) % 100},2024-05-${String((i % 28) + 1).padStart(2, "0")}`);
  await importCsv(request, table, rows.join("\n") + "\n");

  await page.goto(`/tables/${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator(".table-meta")).toHaveText("Rows 1–50 of 120");
  // The column types in words: text, whole number, date.
  await expect(page.locator("th .type")).toHaveText(["text", "whole number", "date"]);

  await page.getByRole("link", { name: "height" }).click();
  await expect(page).toHaveURL(/sort=height/);
  await expect(page.locator('th[aria-sort="ascending"]')).toContainText("height");
  await expect(page.locator("tbody tr").first().locator("td").nth(2)).toHaveText("0");
  await page.getByRole("link", { name: "height ▲" }).click();
  await expect(page.locator('th[aria-sort="descending"]')).toContainText("height");
  await expect(page.locator("tbody tr").first().locator("td").nth(2)).toHaveText("99");

  await page.getByLabel("Search").fill("OAK");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/q=OAK/);
  await expect(page.locator(".table-meta")).toHaveText("Rows 1–17 of 17 with “OAK” (the table has 120)");
  await expect(page.locator('th[aria-sort="descending"]')).toContainText("height");
  const exportHref = await page.locator("a.export").getAttribute("href");
  expect(exportHref).toBe(`/api/tables/${table}/export.csv?sort=height&desc=1&q=OAK`);
  const csv = await (await request.get(exportHref!)).text();
  expect(csv.trim().split("\r\n")).toHaveLength(18);
  expect(await axeFindings(page)).toEqual([]);

  await page.goto(`/tables/${table}`);
  await page.getByLabel("Go to row").fill("101");
  await page.getByRole("button", { name: "Go" }).click();
  await expect(page.locator("tr.jumped")).toHaveAttribute("data-row", "101");
  await expect(page.locator(".table-meta")).toHaveText("Rows 101–120 of 120");

  await page.goto(`/tables/${table}?offset=500`);
  await expect(page.locator(".past-end")).toContainText("There is no row 501 here: the view has 120 rows.");
  await page.getByRole("link", { name: "Go to the last page" }).click();
  await expect(page.locator(".table-meta")).toHaveText("Rows 101–120 of 120");

  // A phone: the columns scroll inside their region, the row number stays at its left edge.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`/tables/${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator(".table-scroll").evaluate((e) => (e.scrollLeft = 1000));
  await expect(page.locator("tbody tr").first().locator("td").first()).toBeInViewport();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
});

test("a search on a large table offers a search index, and finds the same rows with it", async ({ page, request }) => {
  const table = `notes_${Date.now()}`;
  const rows = ["Ref,Note"];
  // 100,000 rows: where the page starts to offer an index.
  for (let i = 1; i <= 100_000; i++) rows.push(`${i},${i % 1000 === 0 ? "parcel returned" : "parcel sent"}`);
  await importCsv(request, table, rows.join("\n") + "\n");

  // A search too short for a search index (two characters) is not offered one.
  await page.goto(`/tables/${table}?q=se`);
  await expect(page.locator(".table-meta")).toContainText("with “se”");
  await expect(page.locator(".index-offer")).toHaveCount(0);

  await page.goto(`/tables/${table}?q=RETURNED`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator(".table-meta")).toHaveText("Rows 1–50 of 100 with “RETURNED” (the table has 100,000)");
  const offer = page.locator(".index-offer");
  await expect(offer).toContainText("Searched without a search index: each search reads all 100,000 rows.");
  expect(await axeFindings(page)).toEqual([]);
  await offer.getByRole("button", { name: "Make a search index" }).click();
  await expect(offer).toHaveCount(0);
  await expect(page.locator(".table-meta")).toHaveText("Rows 1–50 of 100 with “RETURNED” (the table has 100,000)");
  await expect(page.locator("tbody tr").first().locator("td").nth(1)).toHaveText("1000");
});

// A review opened by its address (a reload, a link from the history, another tab): the page is
// server-rendered and must come alive. It once did not: hydration panicked in the review panel
// ("entered unreachable code", tachys hydration.rs), the diff stayed on "Reading the changes…"
// and no button worked.
import { type APIRequestContext, expect, test } from "@playwright/test";

async function importCsv(request: APIRequestContext, fields: Record<string, string>, text: string, want: string) {
  const base = test.info().project.use.baseURL!;
  const response = await request.post("/api/imports", {
    headers: { origin: base },
    multipart: { file: { name: "stock.csv", mimeType: "text/csv", buffer: Buffer.from(text) }, ...fields },
  });
  expect(response.status()).toBe(202);
  const { id } = await response.json();
  await expect.poll(async () => (await (await request.get(`/api/imports/${id}`)).json()).status).toBe(want);
  return id as string;
}

test("a review opened by its address shows its changes and commits", async ({ page, request }) => {
  const table = `stock_${Date.now()}`;
  await importCsv(request, { table, key: "id" }, "id,name,qty\n1,Ann,10\n2,Bob,20\n", "succeeded");
  const id = await importCsv(
    request,
    { table, mode: "upsert", key: "id", review: "true", on_error: "skip" },
    "id,name,qty\n1,Ana,10\n3,Cy,x\n4,Dee,40\n",
    "review",
  );
  const panics: string[] = [];
  page.on("console", (m) => m.type() === "error" && panics.push(m.text()));
  await page.goto(`/imports/${id}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  // The diff's rows, the changed cell old → new, and the rejected row in its grid.
  await expect(page.locator("table.diff tbody tr")).toHaveCount(2);
  await expect(page.locator("table.diff")).toContainText("Ann");
  await expect(page.locator("table.diff")).toContainText("Ana");
  await expect(page.locator(".reject-grid")).toContainText("x");
  // Go to a sheet row: the page that holds it, the row marked.
  await page.getByLabel("Go to row").fill("4");
  await page.getByLabel("Go to row").press("Enter");
  await expect(page.locator("table.diff tr.jumped")).toHaveAttribute("data-row", "4");
  await expect(page.locator("table.diff tbody tr")).toHaveCount(2);
  await page.getByRole("button", { name: "Commit: write these changes" }).click();
  await expect(page.locator(".progress-card")).toHaveAttribute("data-status", "succeeded");
  expect(panics, panics.join("\n")).toEqual([]);
});

test("an ended import with row errors opened by its address shows them", async ({ page, request }) => {
  // The same page, the same panic: an ended import's row errors and their groups are read in the
  // browser, and drawn by the server they did not hydrate (tachys hydration.rs:163).
  const table = `counted_${Date.now()}`;
  await importCsv(request, { table }, "id,qty\n1,2\n", "succeeded");
  const id = await importCsv(request, { table, mode: "append", on_error: "skip" }, "id,qty\n2,x\n3,n/a\n4,5\n", "succeeded");
  const panics: string[] = [];
  page.on("console", (m) => m.type() === "error" && panics.push(m.text()));
  await page.goto(`/imports/${id}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator(".error-groups")).toContainText("2 rows: “qty” is not a whole number.");
  await expect(page.locator(".errors-table tbody tr")).toHaveCount(2);
  expect(panics, panics.join("\n")).toEqual([]);
});

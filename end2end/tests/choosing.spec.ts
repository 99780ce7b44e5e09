// Choosing a file, as people really do it (issue 14, point 1): before the page is interactive, the
// same file again after an error, two files at once, a change of mind mid-upload, leaving the page
// while the upload runs.
import { expect, test } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function files() {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-choosing-"));
  const good = join(dir, "Trees.csv");
  writeFileSync(good, "Name,Height\noak,20\nbirch,15\n");
  const bad = join(dir, "photo.xlsx");
  writeFileSync(bad, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  return { good, bad };
}

test("a file chosen before the page is interactive is taken once it is", async ({ page }) => {
  const { good } = files();
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  await page.route("**/*.wasm", async (route) => {
    await gate;
    await route.continue();
  });
  await page.goto("/", { waitUntil: "domcontentloaded" });
  await page.locator('input[type="file"]').setInputFiles(good);
  await expect(page.locator("body[data-hydrated]")).not.toBeAttached();
  release();
  await expect(page.locator("body[data-hydrated]")).toBeAttached({ timeout: 30_000 });
  await expect(page.locator(".preview-table thead th")).toHaveCount(2, { timeout: 30_000 });
});

test("the same file again after an error is uploaded again, and two files dropped are refused in words", async ({ page }) => {
  const { bad } = files();
  let uploads = 0;
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/api/uploads") uploads++;
  });
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const input = page.locator('input[type="file"]');
  await input.setInputFiles(bad);
  await expect(page.getByRole("alert")).toContainText("not a spreadsheet");
  await input.setInputFiles(bad);
  await expect.poll(() => uploads).toBe(2);
  await expect(page.getByRole("alert")).toContainText("not a spreadsheet");

  const two = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File(["a,b\n1,2\n"], "one.csv", { type: "text/csv" }));
    d.items.add(new File(["a\n1\n"], "two.csv", { type: "text/csv" }));
    return d;
  });
  await page.locator(".dropzone").dispatchEvent("drop", { dataTransfer: two });
  await expect(page.getByRole("alert")).toContainText("One file at a time: 2 files were dropped.");
  expect(uploads).toBe(2);
});

test("an upload can be cancelled, and leaving the page mid-upload asks first", async ({ page }) => {
  const { good } = files();
  // The server never answers: the upload stays in flight for as long as the test needs.
  await page.route("**/api/uploads", () => {});
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  const input = page.locator('input[type="file"]');
  await input.setInputFiles(good);
  const cancel = page.getByRole("button", { name: "Cancel the upload" });
  await cancel.click();
  await expect(page.locator(".upload-progress")).toHaveCount(0);
  await expect(page.getByRole("alert")).toHaveCount(0);

  await input.setInputFiles(good);
  await expect(cancel).toBeVisible();
  let asked = "";
  page.on("dialog", async (d) => {
    asked = d.type();
    await d.dismiss();
  });
  await page.close({ runBeforeUnload: true });
  await expect.poll(() => asked).toBe("beforeunload");
});

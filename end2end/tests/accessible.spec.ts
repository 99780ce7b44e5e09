// Every page, as a person with a keyboard or a screen reader meets it (issue 14, point 5): a skip
// link first, a <title> and an <h1> per page, zero serious or critical axe-core findings in the
// light and the dark theme, and, after Import, the focus on the progress card, whose status line is
// its one live region and speaks only when the phase or the outcome changes.
import { expect, test, type Page } from "@playwright/test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { axeFindings } from "./axe";

async function open(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
}

test("each page has a skip link, a title, one h1 and no serious axe findings in either theme", async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-a11y-"));
  const file = join(dir, "Plants.csv");
  const rows = ["Name,Height,Planted"];
  for (let i = 1; i <= 2000; i++) rows.push(`plant ${i},${(i % 90) / 10},2024-04-${String((i % 28) + 1).padStart(2, "0")}`);
  writeFileSync(file, rows.join("\n") + "\n");

  // The home page, then an import through it, so the other pages have something to show.
  await open(page, "/");
  await page.keyboard.press("Tab");
  await expect(page.locator(".skip-link")).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("main")).toBeFocused();
  await page.locator('input[type="file"]').setInputFiles(file);
  await expect(page.locator(".preview-table thead th")).toHaveCount(3, { timeout: 30_000 });
  const table = `plants_${test.info().project.name}_${Date.now()}`;
  await page.getByLabel("Table name").fill(table);
  await page.getByLabel("Table name").press("Tab");
  await expect(page.locator(".column-map tr[data-column=name]")).toBeVisible();
  await page.locator("button.start").click();
  const card = page.locator(".progress-card");
  await expect(card).toBeFocused({ timeout: 30_000 });
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  // One live region in the card: its status line.
  await expect(card.locator("[aria-live], [role=alert], [role=status]")).toHaveCount(1);
  await expect(card.locator(".phase")).toHaveText(`Done: 2,000 rows are in table ${table}.`);
  const importPath = new URL(await page.locator(".permalink a").getAttribute("href") ?? "", page.url()).pathname;

  const findings: string[] = [];
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const path of ["/", "/imports", importPath, "/tables", `/tables/${table}`, "/account", "/no-such-page"]) {
      await open(page, path);
      await expect(page.locator("h1"), path).toHaveCount(1);
      expect(await page.title(), path).toMatch(/ · sheetport$/);
      findings.push(...(await axeFindings(page)).map((f) => `${scheme}: ${f}`));
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  expect(findings).toEqual([]);
});

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

/** Each input's and the drop zone's border against what is behind it: "ratio selector" lines. */
async function borderContrasts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 4).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const f = (x: number) => ((x /= 255) <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const behind = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    return [...document.querySelectorAll('input[type="text"], input[type="password"], select, .dropzone')].map((el) => {
      const border = rgb(getComputedStyle(el).borderTopColor).slice(0, 3);
      const [a, b] = [lum(border), lum(behind(el.parentElement))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      return `${ratio.toFixed(2)} ${el.tagName.toLowerCase()}.${el.className}`;
    });
  });
}

test("input borders and the drop zone stand out at 3:1 in both themes", async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-a11y-"));
  const file = join(dir, "Tiny.csv");
  writeFileSync(file, "Name,Size\na,1\nb,2\n");
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await open(page, "/");
    await page.locator('input[type="file"]').setInputFiles(file);
    await expect(page.locator(".preview-table thead th")).toHaveCount(2, { timeout: 30_000 });
    const seen = await borderContrasts(page);
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.filter((line) => Number(line.split(" ")[0]) < 3), scheme).toEqual([]);
  }
});

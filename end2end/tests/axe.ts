// An accessibility check of the page as it is now: axe-core (from npm) run inside Chromium. The
// page's Content-Security-Policy forbids injected scripts, so the source goes in through the
// DevTools protocol (Playwright's evaluate), which the policy does not govern.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";

const source = readFileSync(join(__dirname, "..", "node_modules", "axe-core", "axe.min.js"), "utf8");

/** The serious and critical findings on the page, one line each ("rule: target, …"). */
export async function axeFindings(page: Page): Promise<string[]> {
  await page.evaluate(source);
  const results = await page.evaluate(async () => {
    // @ts-expect-error: axe is what the evaluated source defined.
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v: { id: string; impact: string; nodes: { target: string[] }[] }) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return results
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${page.url()} ${v.id} (${v.impact}): ${v.targets.slice(0, 5).join(", ")}`);
}

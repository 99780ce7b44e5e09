// A first visit on a slow line (issue 14, point 6): 1.6 Mbit/s down, 750 kbit/s up, 150 ms each
// way, nothing cached, as Chromium's own throttling (CDP) makes it. The time until the page is
// interactive (hydrated) and the bytes it took are in the report; against the release build
// (SHEETPORT_SITE=release) it must be under 2.5 s. The debug WASM is several times larger, so
// there the test only holds it to becoming interactive at all.
import { expect, test } from "@playwright/test";

test("the first visit on a 1.6 Mbit/s line becomes interactive", async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== "sqlite", "the line is the same for both databases");
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 150,
    downloadThroughput: 1_600_000 / 8,
    uploadThroughput: 750_000 / 8,
  });
  const sizes = new Map<string, number>();
  const urls = new Map<string, string>();
  cdp.on("Network.requestWillBeSent", (e) => urls.set(e.requestId, new URL(e.request.url).pathname));
  cdp.on("Network.loadingFinished", (e) => sizes.set(urls.get(e.requestId) ?? e.requestId, e.encodedDataLength));
  // The moment the page marks itself hydrated, on the browser's own clock (milliseconds since the
  // navigation began): waiting for the attribute from here would add Playwright's polling steps
  // (100, 250, 500 ms, then every second) to the page's time.
  await page.addInitScript(() => {
    new MutationObserver((_, seen) => {
      if (document.body?.hasAttribute("data-hydrated")) {
        (window as unknown as { hydratedAt: number }).hydratedAt = performance.now();
        seen.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
  });
  const start = Date.now();
  await page.goto("/");
  await expect(page.locator("body[data-hydrated]")).toBeAttached({ timeout: 90_000 });
  const waited = Date.now() - start;
  const ms = Math.round(await page.evaluate(() => (window as unknown as { hydratedAt: number }).hydratedAt));
  const bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const each = [...sizes.entries()].map(([u, n]) => `${u} ${Math.round(n / 1024)} KiB`).join(", ");
  const site = process.env.SHEETPORT_SITE ?? "debug";
  const said =
    `${ms} ms to interactive (${site} build; the test saw it after ${waited} ms), ` +
    `${Math.round(bytes / 1024)} KiB over the wire: ${each}`;
  testInfo.annotations.push({ type: "first load at 1.6 Mbit/s, 150 ms", description: said });
  console.log(`first load at 1.6 Mbit/s, 150 ms: ${said}`);
  // The page works once hydrated: the file input is there to take a file.
  await expect(page.locator('input[type="file"]')).toBeAttached();
  if (site === "release") expect(ms).toBeLessThan(2500);
});

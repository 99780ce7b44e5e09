// The site's files as a browser on a slow line gets them (issue 14, point 6): compressed, asked
// again on each visit and answered 304 when unchanged, and a favicon.
import { expect, test } from "@playwright/test";

test("the WASM comes compressed, is revalidated with a 304, and there is a favicon", async ({ request }) => {
  const wasm = await request.get("/pkg/sheetport.wasm", { headers: { "accept-encoding": "br" } });
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()["content-encoding"]).toBe("br");
  expect(wasm.headers()["cache-control"]).toBe("no-cache");
  const since = wasm.headers()["last-modified"];
  expect(since).toBeTruthy();
  const again = await request.get("/pkg/sheetport.wasm", { headers: { "if-modified-since": since } });
  expect(again.status()).toBe(304);
  const icon = await request.get("/favicon.svg");
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
});

// The site's files as a browser on a slow line gets them (issue 14, point 6): named by their
// content's hash, compressed, kept for a year without asking again; and a favicon.
import { expect, test } from "@playwright/test";

test("the WASM, script and style are hashed, compressed and kept for a year; there is a favicon", async ({ request }) => {
  const page = await (await request.get("/")).text();
  const names = ["wasm", "js", "css"].map((ext) => {
    const found = page.match(new RegExp(`/pkg/sheetport\\.[A-Za-z0-9_-]{22}\\.${ext}`));
    expect(found, `a hashed .${ext} in the page`).not.toBeNull();
    return found![0];
  });
  for (const url of names) {
    const res = await request.get(url, { headers: { "accept-encoding": "br" } });
    expect(res.status(), url).toBe(200);
    expect(res.headers()["content-encoding"], url).toBe("br");
    expect(res.headers()["cache-control"], url).toBe("public, max-age=31536000, immutable");
  }
  // A name that is not there is not kept.
  const missing = await request.get("/pkg/sheetport.wasm");
  expect(missing.status()).toBe(404);
  const icon = await request.get("/favicon.svg");
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
});

// Accounts in the browser, on the servers that have them: sign in, import, sign out; a second
// person cannot see the first one's import; a page on another origin (a second local server, so
// the same site: SameSite cookies do not help, the Origin check must) tries to start and to cancel
// an import with the signed-in person's cookies and is refused; no page breaks its own
// Content-Security-Policy.
import { expect, test, type Page } from "@playwright/test";
import { createServer, type Server } from "node:http";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PASSWORD, accountsURL } from "../accounts";

/// Every console message about the Content-Security-Policy, for the test to assert there are none.
function watchPolicy(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content[- ]Security[- ]Policy/i.test(m.text())) violations.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => violations.push(`${page.url()}: ${e.message}`));
  return violations;
}

async function signIn(page: Page, base: string, name: string, next = "/") {
  await page.goto(`${base}${next}`);
  await expect(page).toHaveURL(/\/signin\?next=/);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(`${base}${next}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator(".who-name")).toHaveText(name);
}

/// Uploads a small CSV through the page and waits for its import to succeed; its id.
async function importThroughThePage(page: Page, base: string, table: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "sheetport-accounts-"));
  const file = join(dir, `${table}.csv`);
  writeFileSync(file, "region,units\nnorth,3\nsouth,5\n");
  await page.goto(`${base}/`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await page.locator('input[type="file"]').setInputFiles(file);
  await expect(page.locator(".preview-table thead th")).toHaveCount(2, { timeout: 30_000 });
  await page.locator("button.start").click();
  const card = page.locator(".progress-card");
  await expect(card).toHaveAttribute("data-status", "succeeded", { timeout: 60_000 });
  const link = await page.getByRole("link", { name: "Open this import on its own page" }).getAttribute("href");
  return link!.split("/").pop()!;
}

test("sign in, import, sign out; the next person sees none of it", async ({ browser }, info) => {
  const base = accountsURL(info.project.name);
  const ana = await browser.newContext();
  const page = await ana.newPage();
  const violations = watchPolicy(page);
  await signIn(page, base, "ana", "/imports");
  const id = await importThroughThePage(page, base, `ana_${info.project.name}`);
  await page.goto(`${base}/imports`);
  await expect(page.locator(`a[href="/imports/${id}"]`)).toBeVisible();
  for (const path of ["/tables", "/account", `/imports/${id}`]) {
    await page.goto(`${base}${path}`);
    await expect(page.locator("body[data-hydrated]")).toBeAttached();
  }
  await expect(page.locator(".progress-card")).toHaveAttribute("data-status", "succeeded");
  // Her table: she gives bob write access on its page.
  const table = `ana_${info.project.name}`;
  await page.goto(`${base}/tables/${table}`);
  await expect(page.locator("body[data-hydrated]")).toBeAttached();
  await expect(page.locator(".access")).toContainText("Its owner, ana, and admins.");
  await page.getByLabel("Give write access to").fill("bob");
  await page.getByRole("button", { name: "Give", exact: true }).click();
  await expect(page.locator(".access")).toContainText("Its owner, ana, and admins, and bob.");
  await page.goto(`${base}/account`);
  await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
  await page.screenshot({ path: `test-results/account-${info.project.name}.png`, fullPage: true });
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto(`${base}/imports`);
  await expect(page).toHaveURL(/\/signin\?next=/);

  // bob, in a browser of his own.
  const bob = await browser.newContext();
  const other = await bob.newPage();
  violations.push(...watchPolicy(other));
  await signIn(other, base, "bob", "/imports");
  await expect(other.getByText("No imports yet.")).toBeVisible();
  await expect(other.locator(`a[href="/imports/${id}"]`)).toHaveCount(0);
  const response = await other.request.get(`${base}/api/imports/${id}`);
  expect(response.status()).toBe(404);
  // Her table, which she let him write: his append is taken.
  const append = await other.request.post(`${base}/api/imports`, {
    headers: { origin: base },
    multipart: {
      file: { name: "more.csv", mimeType: "text/csv", buffer: Buffer.from("region,units\neast,7\n") },
      table,
      mode: "append",
    },
  });
  expect(append.status()).toBe(202);
  await other.goto(`${base}/account`);
  await expect(other.getByRole("heading", { name: "API tokens" })).toBeVisible();
  await expect(other.getByRole("heading", { name: "Audit log" })).toHaveCount(0);
  expect(violations).toEqual([]);
  await ana.close();
  await bob.close();
});

test("a page on another origin cannot start or cancel imports with the signed-in person's cookies", async ({ browser }, info) => {
  const base = accountsURL(info.project.name);
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, base, "ana");
  const before = await (await page.request.get(`${base}/api/imports`)).json();
  const victim = before.length > 0 ? before[0].id : "0123456789abcdef0123456789abcdef";

  // The other site: a second local server (another port, so the same site to the browser) whose
  // page posts a form to cancel, and a multipart import with the person's cookies.
  const attempts: string[] = [];
  const evil: Server = createServer((req, res) => {
    attempts.push(req.url ?? "");
    res.setHeader("content-type", "text/html");
    res.end(`<!doctype html><title>not sheetport</title>
      <form id="cancel" method="post" action="${base}/rpc/cancel_import" target="sink">
        <input name="id" value="${victim}"></form>
      <iframe name="sink"></iframe>
      <script>
        const body = new FormData();
        body.append("file", new Blob(["a,b\\n1,2\\n"], { type: "text/csv" }), "stolen.csv");
        body.append("table", "stolen");
        fetch("${base}/api/imports", { method: "POST", body, credentials: "include", mode: "no-cors" })
          .finally(() => { document.getElementById("cancel").submit(); document.title = "sent"; });
      </script>`);
  });
  await new Promise<void>((ready) => evil.listen(0, "127.0.0.1", () => ready()));
  const port = (evil.address() as { port: number }).port;
  const refused: number[] = [];
  page.on("response", (r) => {
    if (r.url().startsWith(base) && r.request().method() === "POST") refused.push(r.status());
  });
  await page.goto(`http://127.0.0.1:${port}/`);
  await expect(page).toHaveTitle("sent");
  await expect.poll(() => refused.length, { timeout: 10_000 }).toBe(2);
  expect(refused).toEqual([403, 403]);
  evil.close();

  const after = await (await page.request.get(`${base}/api/imports`)).json();
  expect(after.length).toBe(before.length);
  expect(after.some((p: { table: string }) => p.table === "stolen")).toBe(false);
  await context.close();
});

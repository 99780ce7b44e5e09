// Browser tests run Debian's Chromium (never a downloaded browser) against a real sheetport
// server started here on its own port, with its own temporary data directory and database.
import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const port = Number(process.env.E2E_PORT ?? 3939);
const data = mkdtempSync(join(tmpdir(), "sheetport-e2e-"));
const bin = process.env.SHEETPORT_BIN ?? resolve(__dirname, "../target/debug/sheetport");

export default defineConfig({
  testDir: "./tests",
  timeout: 120_000,
  fullyParallel: false,
  workers: 1,
  reporter: process.env.CI ? "line" : "list",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `${bin} serve --addr 127.0.0.1:${port} --data-dir ${data} --database sqlite://${data}/sheetport.db`,
    cwd: resolve(__dirname, ".."),
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});

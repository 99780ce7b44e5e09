// Browser tests run Debian's Chromium (never a downloaded browser) against real sheetport servers
// started here, each on its own port with its own temporary data directory: one on a SQLite file
// (the default) and one on the PostgreSQL server at 127.0.0.1:5432, in a database of its own that
// is created fresh at the start and dropped once that server has stopped. Every test runs on both.
// Two more servers, on the next two ports, have accounts (ana, an admin, and bob): the accounts
// tests use them (see accounts.ts).
import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PG_DATABASE, PSQL } from "./postgres";
import { PASSWORD, accountsPort } from "./accounts";

const port = Number(process.env.E2E_PORT ?? 3939);  // and the next three (see accounts.ts)
const data = mkdtempSync(join(tmpdir(), "sheetport-e2e-"));
const bin = process.env.SHEETPORT_BIN ?? resolve(__dirname, "../target/debug/sheetport");
const pgUrl = `postgres://postgres@127.0.0.1:5432/${PG_DATABASE}`;
const pgAccountsUrl = `postgres://postgres@127.0.0.1:5432/${PG_DATABASE}_accounts`;

/// Shell commands that make ana (an admin) and bob on `database` before its server starts.
function people(database: string) {
  const add = (name: string, admin: string) =>
    `printf '%s\n' '${PASSWORD}' | ${bin} user add ${name} ${admin} --database ${database} >/dev/null && `;
  return add("ana", "--admin") + add("bob", "");
}

function server(name: string, port: number, database: string, before = "", after = "") {
  const serve = `${bin} serve --addr 127.0.0.1:${port} --data-dir ${data}/${name} --database ${database}`;
  return {
    // The shell outlives the server (both get the SIGTERM below) to clean up after it.
    command: `${before}${serve} & pid=$!; trap 'wait $pid; ${after}' TERM; wait $pid`,
    gracefulShutdown: { signal: "SIGTERM" as const, timeout: 20_000 },
    cwd: resolve(__dirname, ".."),
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
  };
}

export default defineConfig({
  testDir: "./tests",
  timeout: 120_000,
  fullyParallel: false,
  workers: 1,
  reporter: process.env.CI ? "line" : "list",
  use: {
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "sqlite", use: { baseURL: `http://127.0.0.1:${port}` } },
    { name: "postgres", use: { baseURL: `http://127.0.0.1:${port + 1}` } },
  ],
  webServer: [
    server("sqlite", port, `sqlite://${data}/sqlite/sheetport.db`, `mkdir -p ${data}/sqlite && `),
    server(
      "postgres",
      port + 1,
      pgUrl,
      `${PSQL} -c "DROP DATABASE IF EXISTS ${PG_DATABASE} WITH (FORCE)" -c "CREATE DATABASE ${PG_DATABASE}" && `,
      `${PSQL} -c "DROP DATABASE IF EXISTS ${PG_DATABASE} WITH (FORCE)"`,
    ),
    server(
      "accounts-sqlite",
      accountsPort("sqlite"),
      `sqlite://${data}/accounts-sqlite/sheetport.db`,
      `mkdir -p ${data}/accounts-sqlite && ${people(`sqlite://${data}/accounts-sqlite/sheetport.db`)}`,
    ),
    server(
      "accounts-postgres",
      accountsPort("postgres"),
      pgAccountsUrl,
      `${PSQL} -c "DROP DATABASE IF EXISTS ${PG_DATABASE}_accounts WITH (FORCE)" -c "CREATE DATABASE ${PG_DATABASE}_accounts" && ${people(pgAccountsUrl)}`,
      `${PSQL} -c "DROP DATABASE IF EXISTS ${PG_DATABASE}_accounts WITH (FORCE)"`,
    ),
  ],
});

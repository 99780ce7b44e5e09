// Drops the browser tests' PostgreSQL database, so a run leaves the server as it found it.
import { execSync } from "node:child_process";
import { PG_DATABASE, PSQL } from "./postgres";

export default function teardown() {
  execSync(`${PSQL} -c "DROP DATABASE IF EXISTS ${PG_DATABASE} WITH (FORCE)"`, { stdio: "inherit" });
}

#!/usr/bin/env bash
# Installs what is missing and runs every test: unit and integration (real SQLite files, a real
# server on port 0, a real SSE client, real `sheetport serve` processes on PostgreSQL), the
# integration suite again on PostgreSQL, then the browser tests in Debian's Chromium, then a smoke
# run of the benchmark harness (every case must run and import every row).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
setup_postgres
cd "$ROOT"

# cargo-leptos builds the debug server with these; the tests use the same so one compile serves both.
export RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=sheetport

say "unit and integration tests (SQLite; the several-instance tests on PostgreSQL)"
cargo test --quiet --features ssr

say "integration tests again, on PostgreSQL"
SHEETPORT_TEST_DB=postgres cargo test --quiet --features ssr --test api -- --skip instances::

say "building the site for the browser tests"
env -u RUSTFLAGS -u LEPTOS_OUTPUT_NAME cargo leptos build 2>&1 | grep -vE '^\s*(Compiling|Downloaded|Downloading|Updating|Locking|Adding)\b' || true
test -x "$CARGO_TARGET_DIR/debug/sheetport" || { echo "build failed" >&2; exit 1; }

say "browser tests (Playwright + /usr/bin/chromium)"
export SHEETPORT_BIN="$CARGO_TARGET_DIR/debug/sheetport"
(cd end2end && npx playwright test)

say "benchmark smoke run (100k rows on the debug build; numbers are not judged here)"
python3 bench/run.py --smoke --debug >/dev/null
say "all tests passed"

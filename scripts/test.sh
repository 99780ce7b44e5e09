#!/usr/bin/env bash
# Installs what is missing and runs every test: the format and lint gates (rustfmt; clippy with
# -D warnings as the compiler of sheetport's own crates, server and browser), unit and integration
# tests (real SQLite files, a real server on port 0, a real SSE client, real `sheetport` processes
# stopped with real signals, several instances on PostgreSQL), the integration suite again on
# PostgreSQL, a fuzzing pass, the browser tests in Debian's Chromium against the release site that
# serve.sh serves, then a smoke run of the benchmark harness (every case must run and import every
# row). Prints how long each step took at the end, pass or fail.
#
# Everything is built once, in the release profile: the server serve.sh serves is the one the
# tests start, and the test binaries share its compiled dependencies (a debug profile would compile
# all of them a second time: most of a fresh run).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

steps=()
step_name=""
step_began=$SECONDS
began=$SECONDS
step() {
  [ -z "$step_name" ] || steps+=("$(printf '%5d s  %s' $((SECONDS - step_began)) "$step_name")")
  step_name="$1"
  step_began=$SECONDS
  [ -z "$step_name" ] || say "$step_name"
}
report() {
  local status=$?
  step ""
  if [ "$status" = 0 ]; then printf '\nSteps (passed):\n' >&2; else printf '\nSteps (failed, exit %s):\n' "$status" >&2; fi
  printf '%s\n' "${steps[@]}" >&2
  printf '%5d s  in all\n' $((SECONDS - began)) >&2
}
trap report EXIT

step "set-up (clippy, rustfmt, the wasm32 target, terser)"
setup_build
command -v rustfmt >/dev/null && rustfmt --version >/dev/null 2>&1 || rustup component add rustfmt >/dev/null 2>&1

step "format (cargo fmt --check)"
cargo fmt --check

# Chromium, Playwright and PostgreSQL are installed and started beside the build: it wants the
# processor, they want the network and the disk.
mkdir -p "$CARGO_TARGET_DIR/logs"
setup_log="$CARGO_TARGET_DIR/logs/setup.log"
(setup_all && setup_postgres) >"$setup_log" 2>&1 &
setup_pid=$!

step "build: the release server and site, the test binaries (lints included)"
# Side by side: the build tool and the test binaries compile at once; then the browser bundle
# builds beside the server (the server's part is already done by the tests' build, or by serve.sh).
(cargo test --release --features ssr --no-run --quiet 2>&1 \
  | { grep -vE '^\s*(Compiling|Downloaded|Downloading|Updating|Locking|Adding|Executable)\b' || true; }) &
tests_pid=$!
build_release
wait "$tests_pid"

step "waiting for Chromium, Playwright and PostgreSQL to be installed and started"
wait "$setup_pid" || { cat "$setup_log" >&2; exit 1; }

step "unit and integration tests (SQLite; several instances on PostgreSQL)"
cargo test --release --quiet --features ssr

# The command line, the one-server lifecycle and the full disk (a tmpfs) are SQLite's; the instances
# are PostgreSQL's already.
step "integration tests again, on PostgreSQL"
SHEETPORT_TEST_DB=postgres cargo test --release --quiet --features ssr --test api -- --skip instances:: --skip cli:: --skip lifecycle:: --skip disk:: --skip bounded::

step "fuzzing: the kept crashers, then a short mutation pass in-process and through the server"
# `cargo test` built the example; a long run is `cargo run --release --features ssr --example fuzz -- --seconds 3600`.
fuzz="$CARGO_TARGET_DIR/release/examples/fuzz"
"$fuzz" --replay tests/fixtures/fuzz --out "$CARGO_TARGET_DIR/fuzz"
"$fuzz" --seconds "${FUZZ_SECONDS:-90}" --out "$CARGO_TARGET_DIR/fuzz"
"$fuzz" --server --seconds "${FUZZ_SERVER_SECONDS:-60}" --out "$CARGO_TARGET_DIR/fuzz"

step "browser tests (Playwright + /usr/bin/chromium, on the release site serve.sh serves)"
for ext in wasm wasm.br wasm.gz js.br css.br; do
  compgen -G "target/site/pkg/sheetport.*.$ext" >/dev/null || { echo "the release site lacks its .$ext" >&2; exit 1; }
done
export SHEETPORT_BIN="$CARGO_TARGET_DIR/release/sheetport" SHEETPORT_SITE=release
(cd end2end && npx playwright test)

step "benchmark smoke run (100k rows; numbers are not judged here)"
python3 bench/run.py --smoke >/dev/null

step ""
say "all tests passed"

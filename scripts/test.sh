#!/usr/bin/env bash
# Installs what is missing and runs every test: the format and lint gates (rustfmt; clippy with
# -D warnings as the compiler of sheetport's own crates, server and browser), unit and integration
# tests (real SQLite files, a real server on port 0, a real SSE client, real `sheetport` processes
# stopped with real signals, several instances on PostgreSQL), the integration suite again on
# PostgreSQL, a fuzzing pass, the browser tests in Debian's Chromium against the release site that
# serve.sh serves, and a smoke run of the benchmark harness (every case must run and import every
# row). Prints how long each step took at the end, pass or fail.
#
# Everything is built once, in the release profile: the server serve.sh serves is the one the
# tests start, and the test binaries share its compiled dependencies (a debug profile would compile
# all of them a second time: most of a fresh run). The tests then run in two lanes side by side,
# the Rust suites in one and the browser, benchmark and fuzzing in the other: each keeps about one
# of the two cores busy (measured alone: the SQLite suite 126 s of processor in 98 s, the browser
# tests 142 s in 88 s).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
logs="$CARGO_TARGET_DIR/logs"
mkdir -p "$logs"

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
  [ ! -s "$logs/lanes.txt" ] || sed 's/^/         /' "$logs/lanes.txt" >&2
  printf '%5d s  in all\n' $((SECONDS - began)) >&2
}
trap report EXIT
: >"$logs/lanes.txt"

step "set-up (clippy, rustfmt, the wasm32 target, terser)"
setup_build
command -v rustfmt >/dev/null && rustfmt --version >/dev/null 2>&1 || rustup component add rustfmt >/dev/null 2>&1

step "format (cargo fmt --check)"
cargo fmt --all --check

# Chromium, Playwright and PostgreSQL are installed and started beside the build: it wants the
# processor, they want the network and the disk.
(setup_all && setup_postgres) >"$logs/setup.log" 2>&1 &
setup_pid=$!

step "build: the release server and site, the test binaries (lints included)"
# The test binaries compile beside the build tool; the server's part is shared (one feature set).
(cargo test --release --features ssr --no-run --quiet 2>&1 \
  | { grep -vE '^\s*(Compiling|Downloaded|Downloading|Updating|Locking|Adding|Blocking|Executable)\b' || true; }) &
tests_pid=$!
build_release
wait "$tests_pid"

step "waiting for Chromium, Playwright and PostgreSQL to be installed and started"
wait "$setup_pid" || { cat "$logs/setup.log" >&2; exit 1; }

# One lane: its steps in order, each timed into lanes.txt, all output into the lane's log.
lane() {
  local name=$1; shift
  local log="$logs/$name.log"
  : >"$log"
  while [ $# -gt 0 ]; do
    local title=$1 command=$2 t0=$SECONDS
    shift 2
    echo "==> $title" >>"$log"
    if ! bash -c "$command" >>"$log" 2>&1; then
      printf '%5d s  %s: %s FAILED\n' $((SECONDS - t0)) "$name" "$title" >>"$logs/lanes.txt"
      return 1
    fi
    printf '%5d s  %s: %s\n' $((SECONDS - t0)) "$name" "$title" >>"$logs/lanes.txt"
  done
}
export SHEETPORT_BIN="$CARGO_TARGET_DIR/release/sheetport" SHEETPORT_SITE=release
fuzz="$CARGO_TARGET_DIR/release/examples/fuzz"

step "tests, two lanes side by side (Rust suites | browser, benchmark smoke, fuzzing)"
lane rust \
  "unit and integration tests (SQLite; several instances on PostgreSQL)" \
  "cargo test --release --quiet --features ssr -- --skip disk::" \
  "integration tests again, on PostgreSQL (the command line, one server's lifecycle and the full disk are SQLite's)" \
  "SHEETPORT_TEST_DB=postgres cargo test --release --quiet --features ssr --test api -- --skip instances:: --skip cli:: --skip lifecycle:: --skip disk:: --skip bounded::" &
rust_pid=$!
lane browser \
  "browser tests (Playwright + /usr/bin/chromium, on the release site serve.sh serves)" \
  "for ext in wasm wasm.br wasm.gz js.br css.br; do compgen -G \"target/site/pkg/sheetport.*.\$ext\" >/dev/null || { echo \"the release site lacks its .\$ext\"; exit 1; }; done; cd end2end && npx playwright test" \
  "benchmark smoke run (100k rows; numbers are not judged here)" \
  "python3 bench/run.py --smoke" \
  "fuzzing: the kept crashers, then a short mutation pass in-process and through the server" \
  "'$fuzz' --replay tests/fixtures/fuzz --out '$CARGO_TARGET_DIR/fuzz' && '$fuzz' --seconds ${FUZZ_SECONDS:-40} --out '$CARGO_TARGET_DIR/fuzz' && '$fuzz' --server --seconds ${FUZZ_SERVER_SECONDS:-20} --out '$CARGO_TARGET_DIR/fuzz'" &
browser_pid=$!
failed=()
wait "$rust_pid" || failed+=(rust)
wait "$browser_pid" || failed+=(browser)
for name in "${failed[@]}"; do
  printf '\n==> the %s lane failed; its log (%s):\n' "$name" "$logs/$name.log" >&2
  tail -n 150 "$logs/$name.log" >&2
done
[ ${#failed[@]} -eq 0 ] || exit 1
grep -hE '^test result|^\s+[0-9]+ (passed|skipped|flaky)|^fuzz:' "$logs/rust.log" "$logs/browser.log" >&2 || true

# The full disk alone, after the lanes: with the other lane's load beside it, the space a failed
# import's staging table gives back came too late for the next write (the import's end, or the
# next upload's 507), in 5 of 8 runs under four busy loops. A bug to fix (see issue 26's note),
# not a test to loosen; the test holds on an unloaded machine.
step "the full-disk test, alone"
cargo test --release --quiet --features ssr --test api -- disk::

step ""
say "all tests passed"

#!/usr/bin/env bash
# Installs what is missing and runs every test: the format and lint gates (rustfmt, clippy with
# -D warnings for the server and the browser build), unit and integration tests (real SQLite files,
# a real server on port 0, a real SSE client, real `sheetport` processes stopped with real signals,
# several instances on PostgreSQL), the integration suite again on PostgreSQL, then the browser
# tests in Debian's Chromium, then a smoke run of the benchmark harness (every case must run and
# import every row).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
setup_postgres
cd "$ROOT"

# cargo-leptos builds the debug server with these; the tests use the same so one compile serves both.
export RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=sheetport

say "format (cargo fmt --check)"
cargo fmt --check

# Lints are a gate too, checked inside the builds the tests need anyway: clippy's driver compiles
# sheetport's own crates (for `ssr`: the lib, its unit tests, the binary, the integration tests and
# the example; for `hydrate`: the WASM lib in the site build) and fails them on any warning, as
# `cargo clippy --all-targets -- -D warnings` does. Run as separate `cargo clippy` commands, every
# dependency would be checked once more per target: measured on a fresh 2-core machine, 6m41s
# (ssr, --all-targets) + 6m14s (hydrate, wasm32), a third of a fresh CI run.
export RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

say "lints (clippy -D warnings), unit and integration tests (SQLite; several instances on PostgreSQL)"
cargo test --quiet --features ssr

# The command line, the one-server lifecycle and the full disk (a tmpfs) are SQLite's; the instances
# are PostgreSQL's already.
say "integration tests again, on PostgreSQL"
SHEETPORT_TEST_DB=postgres cargo test --quiet --features ssr --test api -- --skip instances:: --skip cli:: --skip lifecycle:: --skip disk:: --skip bounded::

say "fuzzing: the kept crashers, then a short mutation pass in-process and through the server"
# `cargo test` built the example; a long run is `cargo run --release --features ssr --example fuzz -- --seconds 3600`.
fuzz="$CARGO_TARGET_DIR/debug/examples/fuzz"
"$fuzz" --replay tests/fixtures/fuzz --out "$CARGO_TARGET_DIR/fuzz"
"$fuzz" --seconds "${FUZZ_SECONDS:-90}" --out "$CARGO_TARGET_DIR/fuzz"
"$fuzz" --server --seconds "${FUZZ_SERVER_SECONDS:-60}" --out "$CARGO_TARGET_DIR/fuzz"

say "building the site for the browser tests"
# (A failed build, a lint in the WASM lib included, fails the script: pipefail sees cargo's status.)
env -u RUSTFLAGS -u LEPTOS_OUTPUT_NAME cargo leptos build 2>&1 \
  | { grep -vE '^\s*(Compiling|Downloaded|Downloading|Updating|Locking|Adding)\b' || true; }

say "browser tests (Playwright + /usr/bin/chromium)"
export SHEETPORT_BIN="$CARGO_TARGET_DIR/debug/sheetport"
(cd end2end && npx playwright test)

say "benchmark smoke run (100k rows on the debug build; numbers are not judged here)"
python3 bench/run.py --smoke --debug >/dev/null

# The quick start's serve command builds the browser bundle another way (release profile: LTO,
# opt-level "z", wasm-opt, precompressed); build that part too, so a change that breaks only it
# fails here rather than on a person's first `serve.sh`. The server's release build is the same
# code as the debug one the tests ran.
say "the release browser bundle (as serve.sh builds it)"
env -u RUSTFLAGS -u LEPTOS_OUTPUT_NAME cargo leptos build --release --frontend-only --precompress 2>&1 \
  | { grep -vE '^\s*(Compiling|Downloaded|Downloading|Updating|Locking|Adding)\b' || true; }
for ext in wasm wasm.br wasm.gz js.br css.br; do
  compgen -G "target/site/pkg/sheetport*.$ext" >/dev/null || { echo "the release site lacks its .$ext" >&2; exit 1; }
done
say "all tests passed"

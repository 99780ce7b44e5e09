#!/usr/bin/env bash
# Installs what building and testing sheetport needs, only what is missing, quietly, and sets the
# build's environment. Sourced by scripts/serve.sh and scripts/test.sh; `setup_all` adds the
# browser-test and benchmark tools, `setup_postgres` the database server.
# No build tool is compiled here: the site is built by the workspace's own `xtask` (cargo-leptos
# and wasm-bindgen-cli took 19 of the 29.6 minutes to a first page on a fresh machine).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One target directory per machine, reused by every clone and CI run: compilation dominates.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sheetport/target}"
export PATH="$HOME/.cargo/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p "$CARGO_TARGET_DIR"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages, installed together in one apt run when any is missing.
apt_install() {
  say "installing Debian's $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Clippy first: it is the compiler of sheetport's own crates (.cargo/config.toml), so no build may
# start without it; the rest of `setup_build` can go on beside the server's build.
setup_compiler() {
  if ! command -v clippy-driver >/dev/null || ! clippy-driver --version >/dev/null 2>&1; then
    say "adding clippy"
    rustup component add clippy >/dev/null 2>&1
  fi
}

setup_build() {
  setup_compiler
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >/dev/null 2>&1
  fi
  if [ ! -x "$ROOT/tools/node_modules/.bin/terser" ]; then
    say "installing terser (npm), which minifies the page's script"
    (cd "$ROOT/tools" && npm ci --silent --no-audit --no-fund)
  fi
}

setup_all() {
  setup_build
  command -v rustfmt >/dev/null && rustfmt --version >/dev/null 2>&1 || rustup component add rustfmt >/dev/null 2>&1
  # chromium for the browser tests; sqlite3, unzip, GNU time and curl for the benchmark harness;
  # PostgreSQL and nginx for the Rust suites.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v sqlite3 >/dev/null || missing+=(sqlite3)
  command -v unzip >/dev/null || missing+=(unzip)
  command -v curl >/dev/null || missing+=(curl)
  command -v pg_isready >/dev/null || missing+=(postgresql)
  # nginx for the test of docs/nginx.conf in front of the server (tests/api/proxy.rs).
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || [ ! -f "$ROOT/end2end/node_modules/axe-core/axe.min.js" ]; then
    say "installing Playwright and axe-core (no browser download: it drives /usr/bin/chromium)"
    (cd "$ROOT/end2end" && npm ci --silent --no-audit --no-fund)
  fi
}

# PostgreSQL for the tests that need the real server (127.0.0.1:5432, trust auth, as on the
# project's machines). Started when installed but not running (setup_all installs it).
setup_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL"
    as_root service postgresql start >/dev/null 2>&1 || as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main start || true
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; return 1; }
}

# `cargo xtask build --release --precompress`: the release server and site, as serve.sh serves
# them and the browser tests test them. The server's and the bundle's compiles start at once,
# beside the xtask's own (about a minute and a half on a fresh machine, one core idle for much of
# it); the xtask then waits for them or finds them done, and its own cargo runs report any error.
# Cargo's own lines (Compiling, Downloading, waiting for a lock) are left out.
build_release() {
  local early=()
  setup_compiler
  # The server's build (the longest) and the xtask's start first, downloading the crates; the
  # browser bundle's target and the script minifier are installed beside them (on a fresh machine
  # the builds used to wait for those downloads).
  (cd "$ROOT" && exec cargo build-server --release --quiet >/dev/null 2>&1) &
  early+=($!)
  (cd "$ROOT" && exec cargo build --package xtask --profile xtask --quiet >/dev/null 2>&1) &
  early+=($!)
  setup_build
  (cd "$ROOT" && exec cargo build-bundle --profile wasm-release --quiet >/dev/null 2>&1) &
  early+=($!)
  local status=0
  (cd "$ROOT" && cargo xtask build --release --precompress 2>&1) \
    | { grep -vE '^\s*(Compiling|Downloaded|Downloading|Updating|Locking|Adding|Checking|Blocking)\b' || true; } || status=$?
  [ "$status" = 0 ] || kill "${early[@]}" 2>/dev/null || true
  wait "${early[@]}" 2>/dev/null || true
  return "$status"
}

#!/usr/bin/env bash
# Installs what building and testing sheetport needs, only what is missing, quietly.
# Sourced by scripts/serve.sh and scripts/test.sh; `setup_all` adds the browser-test tools.
# Pins: cargo-leptos 0.3.10 (0.3.11 needs rustc 1.96), wasm-bindgen-cli at the Cargo.lock version,
# wasm-opt from npm's binaryen 132 (Debian's binaryen breaks hydration), Debian's chromium.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One target directory per machine, reused by every clone and CI run: compilation dominates.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sheetport/target}"
export PATH="$HOME/.cargo/bin:$ROOT/tools/node_modules/.bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p "$CARGO_TARGET_DIR"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# The build tools are compiled once per machine and their own speed hardly matters (they spend
# their time waiting for rustc), so they get a cheap profile: no LTO, many codegen units, opt-level 1.
tool_profile() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_TARGET_DIR="$HOME/.cache/sheetport/tools-target" "$@"
}

setup_build() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >/dev/null
  fi
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "0.3.10" ]; then
    say "installing cargo-leptos 0.3.10 (minutes on 2 cores, once per machine)"
    tool_profile cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads --quiet
  fi
  local wbg
  wbg="$(awk '$0=="name = \"wasm-bindgen\""{getline;gsub(/version = |"/,"");print;exit}' "$ROOT/Cargo.lock")"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
    say "installing wasm-bindgen-cli $wbg (about 4 minutes, once per machine)"
    # --locked fails for this crate (a locked dependency is missing from the registry).
    tool_profile cargo install wasm-bindgen-cli --version "$wbg" --quiet
  fi
  if [ ! -x "$ROOT/tools/node_modules/.bin/wasm-opt" ]; then
    say "installing wasm-opt (npm binaryen 132)"
    (cd "$ROOT/tools" && npm ci --silent --no-audit --no-fund)
  fi
}

setup_all() {
  setup_build
  # chromium for the browser tests; sqlite3, unzip, GNU time and curl for the benchmark harness.
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v sqlite3 >/dev/null || missing+=(sqlite3)
  command -v unzip >/dev/null || missing+=(unzip)
  command -v curl >/dev/null || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian's ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] || [ ! -f "$ROOT/end2end/node_modules/axe-core/axe.min.js" ]; then
    say "installing Playwright and axe-core (no browser download: it drives /usr/bin/chromium)"
    (cd "$ROOT/end2end" && npm ci --silent --no-audit --no-fund)
  fi
}

# PostgreSQL for the tests that need the real server (127.0.0.1:5432, trust auth, as on the
# project's machines). Started when installed but not running; installed when missing.
setup_postgres() {
  command -v pg_isready >/dev/null || {
    say "installing Debian's postgresql"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  }
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    say "starting PostgreSQL"
    as_root service postgresql start >/dev/null 2>&1 || as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main start || true
    for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; return 1; }
}


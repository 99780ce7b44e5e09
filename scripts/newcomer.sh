#!/usr/bin/env bash
# What a newcomer waits for, measured: a fresh clone of this repository's HEAD into a temporary
# folder, with an empty target directory, a CARGO_HOME of its own (no crate downloaded, no tool
# installed) and an npm cache of its own; then the README's two commands as they are. Prints the
# minutes to the first page (serve.sh answering `/` with the page and its WASM) and to a green
# test run, then a second test run with nothing changed.
#
#   scripts/newcomer.sh [--keep] [--no-second]
#
# What it cannot make fresh: the Rust toolchain and its targets (rustup's, as the machine has
# them) and Debian's packages; remove chromium first (`apt-get remove -y chromium`) to time its
# install too. Leaves nothing behind unless --keep.
set -euo pipefail
keep=false second=true
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    --no-second) second=false ;;
    *) echo "usage: scripts/newcomer.sh [--keep] [--no-second]" >&2; exit 2 ;;
  esac
done
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sheetport-newcomer.XXXXXX")"
serve_pid=""
cleanup() {
  [ -z "$serve_pid" ] || { kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; }
  if $keep; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

git clone --quiet "$src" "$work/sheetport"
export CARGO_HOME="$work/cargo-home" CARGO_TARGET_DIR="$work/target" npm_config_cache="$work/npm-cache"
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS LEPTOS_OUTPUT_NAME RUSTFLAGS
cd "$work/sheetport"
port=$((20000 + RANDOM % 20000))
minutes() { awk -v s="$1" 'BEGIN { printf "%dm%02ds (%.1f min)", s / 60, s % 60, s / 60 }'; }
echo "newcomer: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(rustc --version), $(node --version), at $(git rev-parse --short HEAD)"

began=$SECONDS
./scripts/serve.sh --addr "127.0.0.1:$port" --data-dir "$work/data" >"$work/serve.log" 2>&1 &
serve_pid=$!
until page="$(curl -fsS "http://127.0.0.1:$port/" 2>/dev/null)"; do
  kill -0 "$serve_pid" 2>/dev/null || { tail -n 40 "$work/serve.log" >&2; echo "serve.sh stopped before the page answered" >&2; exit 1; }
  sleep 2
done
first_page=$((SECONDS - began))
wasm="$(grep -oE '/pkg/sheetport\.[A-Za-z0-9_-]{22}\.wasm' <<<"$page" | head -n 1)"
[ -n "$wasm" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port$wasm" || { echo "the page answered without its WASM" >&2; exit 1; }
echo "newcomer: serve.sh answered with the page after $(minutes $first_page)"
kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=""

began=$SECONDS
CI=true ./scripts/test.sh >"$work/test.log" 2>&1 || { tail -n 60 "$work/test.log" >&2; echo "test.sh failed" >&2; exit 1; }
tests=$((SECONDS - began))
sed -n '/^Steps (/,$p' "$work/test.log"
echo "newcomer: test.sh after it was green after $(minutes $tests)"

if $second; then
  began=$SECONDS
  CI=true ./scripts/test.sh >"$work/test2.log" 2>&1 || { tail -n 60 "$work/test2.log" >&2; echo "the second test.sh failed" >&2; exit 1; }
  again=$((SECONDS - began))
  sed -n '/^Steps (/,$p' "$work/test2.log"
  echo "newcomer: test.sh again, nothing changed: green after $(minutes $again)"
fi
echo "newcomer: first page $(minutes $first_page); tests $(minutes $tests)$($second && echo "; second test run $(minutes $again)")"

#!/usr/bin/env bash
# Installs what is missing, builds the release server and site and serves sheetport on
# http://127.0.0.1:3000 with SQLite in ./data. Extra arguments go to `sheetport serve` (e.g.
# --addr 0.0.0.0:8080). The first run on a fresh machine compiles everything (see the README's
# quick start for how long); later runs start in seconds.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
say "building (release: the server and the browser bundle side by side)"
build_release
test -x "$CARGO_TARGET_DIR/release/sheetport" || { echo "build failed" >&2; exit 1; }
say "serving on http://${SHEETPORT_ADDR:-127.0.0.1:3000}"
exec "$CARGO_TARGET_DIR/release/sheetport" serve "$@"

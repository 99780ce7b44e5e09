#!/usr/bin/env bash
# A/B of two sheetport binaries on one file, for "did this change slow the engine down?" when the
# machine's speed drifts between harness runs: the two binaries alternating (the file read into the
# page cache and the disk synced before each run), RUNS each, each binary's wall times printed sorted.
#   bench/ab.sh OLD_BINARY NEW_BINARY FILE [RUNS]          # `sheetport import` into a fresh SQLite file
#   bench/ab.sh --http OLD_BINARY NEW_BINARY FILE [RUNS]   # a server of each: upload (curl -F), then
#                                                          # its SSE stream to the `done` event
#   bench/ab.sh --http --streams N OLD NEW FILE [RUNS]     # the same followed by N streams at once
#                                                          # (bench/sse_fanout.py); the import's own time
set -euo pipefail
http=false streams=""
[ "${1:-}" = --http ] && { http=true; shift; }
[ "${1:-}" = --streams ] && { streams="$2"; shift 2; }
old="$1" new="$2" file="$3" runs="${4:-5}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
declare -A port=([old]=$((40000 + RANDOM % 10000)) [new]=$((50000 + RANDOM % 10000)))
if $http; then
  for v in old new; do
    mkdir -p "$work/$v"
    "${!v}" serve --addr "127.0.0.1:${port[$v]}" --data-dir "$work/$v" --database "sqlite://$work/$v/s.db" \
      --max-upload-bytes $((8 << 30)) --max-stored-bytes $((64 << 30)) >/dev/null 2>&1 &
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:${port[$v]}/healthz" >/dev/null && break; sleep 0.1; done
  done
fi

# One run of binary `$1` (old or new).
one() {
  if $http; then
    local base="http://127.0.0.1:${port[$1]}" id
    if [ -n "$streams" ]; then
      python3 "$(dirname "$0")/sse_fanout.py" "$base" "$file" "$streams" >"$work/elapsed"
      return
    fi
    id=$(curl -sf -F "file=@$file" -F mode=replace -F table=t "$base/api/imports" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    curl -sN "$base/api/imports/$id/events" | grep -m1 -q '^event: done'
  else
    rm -f "$work"/ab.*  # the data file, its WAL and the app's own state file beside it
    "${!1}" import "$file" --database "sqlite://$work/ab.db" --table t >"$work/out" 2>&1 \
      || { echo "the $1 binary failed:" >&2; cat "$work/out" >&2; exit 1; }
  fi
}

declare -A times
for i in $(seq 1 "$runs"); do
  order=(old new)
  [ $((i % 2)) = 0 ] && order=(new old)
  for v in "${order[@]}"; do
    sync
    cat "$file" >/dev/null
    start=$(date +%s.%N)
    one "$v"
    if [ -n "$streams" ]; then
      times[$v]+="$(tail -n1 "$work/elapsed") "
    else
      times[$v]+="$(echo "$(date +%s.%N) - $start" | bc) "
    fi
  done
done
for v in old new; do
  echo "$v: $(tr ' ' '\n' <<<"${times[$v]}" | grep . | sort -n | xargs printf '%.2f s ')"
done

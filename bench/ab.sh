#!/usr/bin/env bash
# A/B of two sheetport binaries on one file, for "did this change slow the engine down?" when the
# machine's speed drifts between harness runs: `sheetport import` of FILE into a fresh SQLite file,
# the two binaries alternating (the file read into the page cache before each run), RUNS each.
#   bench/ab.sh OLD_BINARY NEW_BINARY FILE [RUNS]     # prints each binary's wall times, sorted
set -euo pipefail
old="$1" new="$2" file="$3" runs="${4:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
declare -A times
for i in $(seq 1 "$runs"); do
  order=(old new)
  [ $((i % 2)) = 0 ] && order=(new old)
  for v in "${order[@]}"; do
    bin="${!v}"
    rm -f "$work"/ab.db*
    cat "$file" >/dev/null
    start=$(date +%s.%N)
    "$bin" import "$file" --database "sqlite://$work/ab.db" --table t >/dev/null 2>&1
    times[$v]+="$(echo "$(date +%s.%N) - $start" | bc) "
  done
done
for v in old new; do
  echo "$v: $(tr ' ' '\n' <<<"${times[$v]}" | grep . | sort -n | xargs printf '%.2f s ' )"
done

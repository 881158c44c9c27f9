#!/bin/sh
# bench/report.sh - `tropt report`, `tropt runs` and the page at scale
# (issue 16).  Usage: bench/report.sh [BUILD_DIR] (default build).
# Prints the measured figures; nothing is asserted.
#   1. report of 100 runs x 10,000 steps x 10 keys vs
#      `sqlite3 db "SELECT * FROM metrics" > /dev/null` on the same file
#      (median of 3 interleaved rounds; target ratio <= 2.0)
#   2. the page's size at 100 runs x 10k steps, and at 2 runs x 10k vs
#      2 runs x 1,000,000 steps (it must not grow with the step count)
#   3. `tropt runs` of 1,000 runs
#   4. the 100-run page loaded in headless Chromium (--dump-dom, so every
#      chart is drawn), against an empty page
set -eu
B=$(cd "${1:-build}" && pwd)
T=$B/tools/tropt
GEN=$B/bench/tropt-report-gen
TROPT_PLUGIN_PATH=$B/plugins/sqlite
export TROPT_PLUGIN_PATH
D=$(mktemp -d "${TMPDIR:-/tmp}/tropt-report-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
now() { date +%s.%N; }
# median of 3 numbers on stdin
med() { sort -g | sed -n 2p; }
elapsed() { s=$(now); "$@" > /dev/null 2>&1; e=$(now); echo "$e - $s" | bc -l; }

echo "filesystem of $D: $(stat -f -c %T "$D")"
$GEN "$D/big.db" 100 10000
sqlite3 "$D/big.db" "SELECT count(*) FROM metrics" | sed 's/^/metric rows: /'
: > "$D/sql.t"; : > "$D/rep.t"
for r in 1 2 3; do
    if [ $r = 2 ]; then
        elapsed "$T" report --db "$D/big.db" -o "$D/big.html" >> "$D/rep.t"
        elapsed sqlite3 "$D/big.db" "SELECT * FROM metrics" >> "$D/sql.t"
    else
        elapsed sqlite3 "$D/big.db" "SELECT * FROM metrics" >> "$D/sql.t"
        elapsed "$T" report --db "$D/big.db" -o "$D/big.html" >> "$D/rep.t"
    fi
done
sq=$(med < "$D/sql.t"); rp=$(med < "$D/rep.t")
printf 'report 100x10k: %.3f s; sqlite3 SELECT * FROM metrics: %.3f s; ratio %.2f (target <= 2.0)\n' \
    "$rp" "$sq" "$(echo "$rp / $sq" | bc -l)"
printf 'page size 100 runs x 10k steps: %d bytes (target < 5 MB)\n' "$(stat -c %s "$D/big.html")"

$GEN "$D/s10k.db" 2 10000
$GEN "$D/s1m.db" 2 1000000
"$T" report --db "$D/s10k.db" -o "$D/s10k.html" 2> /dev/null
"$T" report --db "$D/s1m.db" -o "$D/s1m.html" 2> /dev/null
printf 'page size 2 runs x 10k steps: %d bytes; 2 runs x 1M steps: %d bytes\n' \
    "$(stat -c %s "$D/s10k.html")" "$(stat -c %s "$D/s1m.html")"

$GEN "$D/many.db" 1000 10
: > "$D/runs.t"
for r in 1 2 3; do elapsed "$T" runs --db "$D/many.db" >> "$D/runs.t"; done
printf 'tropt runs, 1,000 runs: %.3f s\n' "$(med < "$D/runs.t")"

if command -v chromium > /dev/null 2>&1; then
    printf '<!DOCTYPE html><title>x</title>' > "$D/blank.html"
    load() {
        elapsed timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
            --disable-background-networking --user-data-dir="$D/prof" --dump-dom "file://$1"
    }
    : > "$D/c.t"; : > "$D/b.t"
    for r in 1 2 3; do load "$D/big.html" >> "$D/c.t"; load "$D/blank.html" >> "$D/b.t"; done
    printf 'chromium --dump-dom of the 100-run page: %.2f s (an empty page: %.2f s)\n' \
        "$(med < "$D/c.t")" "$(med < "$D/b.t")"
else
    echo "chromium not found: page load not measured"
fi

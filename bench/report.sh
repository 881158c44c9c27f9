#!/bin/sh
# bench/report.sh - `tropt report` at scale (issues 16, 26, 30).
# Usage: bench/report.sh [BUILD_DIR] (default build).  Prints the measured
# figures with their targets; nothing is asserted.
#   1. report of 100 runs x 10,000 steps x 10 keys vs
#      `sqlite3 db "SELECT * FROM metrics" > /dev/null` on the same file
#      (median of 3 interleaved rounds; target ratio <= 2.0)
#   2. the page of 100 runs x 100,000 steps x 10 keys: its size (target
#      <= 20 MB), the size without the smoothing levels (target: the levels
#      add at most 2x), and its load in headless Chromium against the page of
#      one run with no steps ("an empty report page"; target <= 3x), both as
#      the whole `chromium --dump-dom` process and as the page's load event
#   3. peak memory (max RSS) of `tropt report` over one run of 1,000,000
#      steps x 100 keys against one of 10,000 steps x 100 keys (target <=
#      1.5x)
#   4. the same 100 runs x 2,000 steps drawn by our SVG and by Debian's
#      libjs-dygraphs (bench/report_dygraphs.py), load event times
#   5. `tropt runs` of 1,000 runs
# REPORT_BENCH_QUICK=1 shrinks 2 and 3 by 10x (a smoke run).
set -eu
B=$(cd "${1:-build}" && pwd)
S=$(cd "$(dirname "$0")" && pwd)
T=$B/tools/tropt
GEN=$B/bench/tropt-report-gen
TROPT_PLUGIN_PATH=$B/plugins
export TROPT_PLUGIN_PATH
D=$(mktemp -d "${TMPDIR:-/tmp}/tropt-report-bench.XXXXXX")
trap 'rm -rf "$D"' EXIT
Q=${REPORT_BENCH_QUICK:-0}
BIG=100000; HUGE=1000000
if [ "$Q" = 1 ]; then BIG=10000; HUGE=100000; fi
now() { date +%s.%N; }
# median of 3 numbers on stdin
med() { sort -g | sed -n 2p; }
elapsed() { s=$(now); "$@" > /dev/null 2>&1; e=$(now); echo "$e - $s" | bc -l; }
maxrss() { /usr/bin/time -f %M "$@" 2>&1 > /dev/null | tail -1; }

echo "filesystem of $D: $(stat -f -c %T "$D"); load: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. speed against the sqlite3 shell
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
printf 'page size 100 runs x 10k steps: %d bytes\n' "$(stat -c %s "$D/big.html")"
rm -f "$D/big.db"

# 2. the page of 100 runs x 100k steps, and its load
$GEN "$D/long.db" 100 $BIG
"$T" report --db "$D/long.db" -o "$D/long.html" 2> /dev/null
size=$(stat -c %s "$D/long.html")
levels=$(python3 -c '
import json, re, sys
h = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(re.search(r"id=\"tropt-data\">(.*?)</script>", h, re.S).group(1))
print(sum(len(s["m"]) + 7
          for m in d["metrics"] for s in m["series"] if "m" in s))' "$D/long.html")
printf 'page size 100 runs x %d steps: %d bytes (target <= 20 MB); smoothing levels %d bytes: %.2fx the page without them (target <= 2x)\n' \
    $BIG "$size" "$levels" "$(echo "$size / ($size - $levels)" | bc -l)"
rm -f "$D/long.db"
$GEN "$D/empty.db" 1 0
"$T" report --db "$D/empty.db" -o "$D/empty.html" 2> /dev/null
if command -v chromium > /dev/null 2>&1; then
    load() {
        elapsed timeout 300 chromium --headless --no-sandbox --disable-gpu --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$D/prof" --dump-dom "file://$1"
    }
    : > "$D/c.t"; : > "$D/b.t"
    for r in 1 2 3; do load "$D/long.html" >> "$D/c.t"; load "$D/empty.html" >> "$D/b.t"; done
    c=$(med < "$D/c.t"); b=$(med < "$D/b.t")
    printf 'chromium --dump-dom, the 100-run page: %.2f s; an empty report page: %.2f s; ratio %.2f (target <= 3)\n' \
        "$c" "$b" "$(echo "$c / $b" | bc -l)"
    python3 "$S/report_render.py" "$D/long.html" "$D/empty.html" | sed 's/^/load event: /'
else
    echo "chromium not found: page load not measured"
fi

# 3. memory bounded by the page, not by the store
$GEN "$D/m10k.db" 1 10000 100
r1=$(maxrss "$T" report --db "$D/m10k.db" -o "$D/m10k.html")
rm -f "$D/m10k.db"
$GEN "$D/m1m.db" 1 $HUGE 100
s=$(now); r2=$(maxrss "$T" report --db "$D/m1m.db" -o "$D/m1m.html"); e=$(now)
printf 'max RSS, 1 run x 100 keys: 10k steps %d KB, %d steps %d KB; ratio %.2f (target <= 1.5); the long one took %.1f s for a %d-byte page\n' \
    "$r1" $HUGE "$r2" "$(echo "$r2 / $r1" | bc -l)" "$(echo "$e - $s" | bc -l)" \
    "$(stat -c %s "$D/m1m.html")"
rm -f "$D/m1m.db"

# 4. our SVG against dygraphs on the same data
if command -v chromium > /dev/null 2>&1 && [ -f /usr/share/javascript/dygraphs/dygraph.min.js ]; then
    $GEN "$D/dy.db" 100 2000
    "$T" report --db "$D/dy.db" -o "$D/svg.html" 2> /dev/null
    python3 "$S/report_dygraphs.py" "$D/svg.html" "$D/dygraphs.html"
    python3 "$S/report_render.py" "$D/svg.html" "$D/dygraphs.html" | sed 's/^/load event: /'
fi

# 5. tropt runs
$GEN "$D/many.db" 1000 10
: > "$D/runs.t"
for r in 1 2 3; do elapsed "$T" runs --db "$D/many.db" >> "$D/runs.t"; done
printf 'tropt runs, 1,000 runs: %.3f s\n' "$(med < "$D/runs.t")"

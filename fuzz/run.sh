#!/usr/bin/env bash
# fuzz/run.sh - build the libFuzzer targets with clang and run each for a
# bounded time on its committed seed corpus.
#
#   fuzz/run.sh [TARGET...]      default: every target whose sources exist
#
# Two ways to run:
#   exploring     FUZZ_SECONDS per target, a new random seed each time, new
#                 inputs kept in FUZZ_BUILD/corpus/<target> across runs: what a
#                 developer runs to find new bugs (then merges what it found
#                 into fuzz/corpus with -merge=1, see DEVELOPING.md)
#   reproducible  FUZZ_RUNS set: every committed input, then exactly FUZZ_RUNS
#                 mutations from seed FUZZ_SEED (default 1), new inputs in a
#                 folder emptied first, the per-input time limit generous.
#                 Nothing depends on the clock, the load or the process id
#                 (addresses are not randomized, the tensorboard target
#                 works in FUZZ_BUILD/tb-home), so the same commit built in
#                 the same folder takes the same walk.  What ./build.sh test
#                 (CI) runs, so CI does not fail because a random walk got
#                 lucky that day.
#
# Environment:
#   FUZZ_SECONDS  seconds per target when exploring (default 20); 0 replays
#                 the corpus only
#   FUZZ_RUNS     mutations per target, reproducible (overrides FUZZ_SECONDS)
#   FUZZ_SEED     the seed of a reproducible run (default 1)
#   FUZZ_BUILD    build and work folder (default <source>/build-fuzz)
#   FUZZ_CC       compiler (default clang; needs libFuzzer: Debian's clang
#                 and libclang-rt-14-dev)
#   FUZZ_SAN_EXTRA  extra sanitizer flags, e.g. -fno-sanitize=float-cast-overflow
#                 to fuzz past a known finding
#
# Targets (fuzz/fuzz_<name>.c):
#   spec     core/spec.c      tropt__spec_parse, with a canonical round trip
#   options  core/options.c   tropt__options_validate, every option type
#   flatten  core/flatten.c   tropt__flat_object / _flat_fields vs a naive flattener
#   event    plugins/common   tev_decode, with an encode/decode round trip
#   csv      plugins/csv      csv_put_cell read back by a strict RFC 4180 reader,
#                             tev_put_json(_indent) (config.json) read back by jansson
#   influx   plugins/http     influx_put_escaped / influx_encode_log escaping
#   opt      tools/opt.c      cli_parse_to, the tool's option parser, on every kind of row
#   tensorboard plugins/tensorboard  the reader (framing, decoding, restarts, attempts, merge)
#            on event files made from the input; the encoder's fields read back
#
# New inputs go to FUZZ_BUILD/corpus/<target>, never into fuzz/corpus; a
# crash, leak or failed property leaves FUZZ_BUILD/artifacts/<target>-crash-*
# (replay it with FUZZ_BUILD/fuzz_<target> FILE).  Prints one line per
# target, then Check's "Checks: N, Failures: F, Errors: E" and
# "N passed, N failed"; exits 1 when a target failed.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_BUILD:-$src/build-fuzz}
secs=${FUZZ_SECONDS:-20}
cc=${FUZZ_CC:-clang}
mkdir -p "$out/obj" "$out/logs" "$out/artifacts" "$out/corpus"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
    echo "Checks: 1, Failures: 0, Errors: 1"
    echo "0 passed, 1 failed"
    exit 1
fi

san=("-fsanitize=address,undefined" -fno-sanitize-recover=undefined)
# shellcheck disable=SC2206 # extra flags are split on blanks on purpose
[ -n "${FUZZ_SAN_EXTRA:-}" ] && san+=($FUZZ_SAN_EXTRA)
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wno-unused-parameter
        -I"$src/include" -I"$src/core" -I"$src/plugins/common" -I"$src/plugins/csv"
        -I"$src/plugins/http" -I"$src/tools" -I"$src/plugins/tensorboard" -I"$src/fuzz"
        '-DTROPT_PLUGINDIR="/nonexistent/tropt/plugins"' '-DTROPT_VERSION_STRING="0.0.0-fuzz"')
libs=(-ljansson -ldl -lpthread -lm)

# Sources each target links besides its own file ("core" = core/*.c,
# core/sys/*.c and
# what libtropt links of plugins/common: the event encoder for its
# json_value host service, the digit table of tropt_num).
declare -A needs=(
    [spec]="core"
    [options]="core"
    [flatten]="core"
    [event]="plugins/common/tropt_event.c plugins/common/tropt_num.c"
    [csv]="core plugins/csv/csv_text.c plugins/common/tropt_mem.c"
    [influx]="plugins/common/tropt_event.c plugins/common/tropt_num.c plugins/http/influx.c"
    [opt]="tools/opt.c"
    [tensorboard]="plugins/common/tropt_event.c plugins/common/tropt_num.c plugins/common/tropt_mem.c
        plugins/tensorboard/tb_read.c plugins/tensorboard/tb_scan.c plugins/tensorboard/tb_merge.c
        plugins/tensorboard/tb_decode.c plugins/tensorboard/tb_record.c plugins/tensorboard/tb_crc.c
        plugins/tensorboard/tb_proto.c plugins/tensorboard/tb_util.c plugins/tensorboard/tb_ident.c
        plugins/tensorboard/tb_encode.c plugins/tensorboard/tb_stats.c plugins/tensorboard/tb_conclude.c"
)
all=(spec options flatten event csv influx opt tensorboard)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

# Compile one source into an instrumented object (cached by mtime).
obj() {
    local f=$1 o
    o="$out/obj/$(echo "$1" | tr / _).o"
    if [ ! -f "$o" ] || [ "$src/$f" -nt "$o" ] || [ "$src/core/internal.h" -nt "$o" ]; then
        "$cc" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$src/$f" -o "$o" || return 1
    fi
    echo "$o"
}

build() { # target -> $out/fuzz_<target>
    local t=$1 objs=() s o
    for s in ${needs[$t]}; do
        if [ "$s" = core ]; then
            # every source of core/ and its subfolders (core/sys/: the
            # system-metrics sampler), as core/meson.build builds libtropt
            for c in $(find "$src/core" -name '*.c' | sort); do
                o=$(obj "${c#"$src"/}") || return 1
                objs+=("$o")
            done
            for c in plugins/common/tropt_event.c plugins/common/tropt_num.c; do
                o=$(obj "$c") || return 1
                objs+=("$o")
            done
        else
            o=$(obj "$s") || return 1
            objs+=("$o")
        fi
    done
    "$cc" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer "$src/fuzz/fuzz_$t.c" "${objs[@]}" "${libs[@]}" \
        -o "$out/fuzz_$t"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
for t in "${targets[@]}"; do
    if [ -z "${needs[$t]+x}" ]; then
        echo "fuzz $t: FAIL (unknown target; known: ${all[*]})"
        failed=$((failed + 1))
        continue
    fi
    missing=""
    for s in ${needs[$t]}; do
        [ "$s" = core ] && continue
        [ -f "$src/$s" ] || missing="$missing $s"
    done
    if [ -n "$missing" ]; then
        echo "fuzz $t: skipped (missing:$missing)"
        continue
    fi
    log="$out/logs/$t.log"
    if ! build "$t" >"$log" 2>&1; then
        echo "fuzz $t: FAIL (build failed, see $log)"
        sed -n '1,20p' "$log" | sed 's/^/    /'
        failed=$((failed + 1))
        continue
    fi
    new="$out/corpus/$t"
    norand=()
    if [ -n "${FUZZ_RUNS:-}" ]; then
        # reproducible: a fixed seed and count, no inputs from earlier runs;
        # the per-input limit is generous so a loaded machine cannot trip it
        new="$out/corpus-fixed/$t"
        rm -rf "$new"
        run=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}" -timeout=120 -reload=0)
        # the tensorboard target's folder at a path that does not hold the
        # process id (its reader resolves it), and addresses not randomized
        # (comparisons libFuzzer records may hold pointers)
        export FUZZ_TB_HOME="$out/tb-home"
        norand=()
        setarch "$(uname -m)" -R true 2>/dev/null && norand=(setarch "$(uname -m)" -R)
    elif [ "$secs" -gt 0 ]; then
        run=(-max_total_time="$secs" -timeout=10)
    else
        run=(-runs=0 -timeout=10)
    fi
    mkdir -p "$new"
    start=$(date +%s)
    "${norand[@]}" "$out/fuzz_$t" "${run[@]}" -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "$new" "$src/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        found=$(find "$new" -type f | wc -l)
        seeds=$(find "$src/fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
        echo "fuzz $t: PASS (${execs:-?} runs in ${took}s, corpus $found + $seeds seeds)"
        passed=$((passed + 1))
    else
        echo "fuzz $t: FAIL (exit $rc after ${took}s; log $log)"
        grep -E 'ERROR|property failed|runtime error|SUMMARY|Test unit written|^ *#[0-9]+ ' "$log" | head -25 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
total=$((passed + failed))
pct=100
[ $total -gt 0 ] && pct=$((100 * passed / total))
echo "${pct}%: Checks: $total, Failures: $failed, Errors: 0"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

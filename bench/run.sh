#!/bin/sh
# bench/run.sh - build tropt-bench (-Dbench=true, in build-bench), put every
# plugin it built on TROPT_PLUGIN_PATH, start VictoriaMetrics on a free
# loopback port when it is installed, run the bench, stop the server.
#
#   bench/run.sh [tropt-bench options...]     e.g. --quick, --json out.json,
#                                             --mem-steps 1000000
# Environment: BUILD (default <repo>/build-bench), VM (victoria-metrics
# binary, default /usr/bin/victoria-metrics or PATH), NO_VM=1 to skip it,
# JOBS (ninja -j, default 2).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build-bench}
jobs=${JOBS:-2}

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$src" -Dbench=true
else
    meson configure "$build" -Dbench=true >/dev/null
fi
ninja -C "$build" -j "$jobs"

# every backend is built into build/plugins/
export TROPT_PLUGIN_PATH="$(cd "$build" && pwd)/plugins"
export TROPT_LOG_LEVEL="${TROPT_LOG_LEVEL:-error}"

vm_bin=${VM:-}
if [ -z "$vm_bin" ]; then
    if [ -x /usr/bin/victoria-metrics ]; then
        vm_bin=/usr/bin/victoria-metrics
    else
        vm_bin=$(command -v victoria-metrics || true)
    fi
fi

vm_pid=
vm_dir=
cleanup() {
    if [ -n "$vm_pid" ]; then
        kill "$vm_pid" 2>/dev/null || true
        wait "$vm_pid" 2>/dev/null || true
    fi
    [ -n "$vm_dir" ] && rm -rf "$vm_dir"
}
trap cleanup EXIT INT TERM

if [ -n "$vm_bin" ] && [ -z "${NO_VM:-}" ]; then
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    vm_dir=$(mktemp -d "${TMPDIR:-/tmp}/tropt-bench-vm.XXXXXX")
    "$vm_bin" -httpListenAddr="127.0.0.1:$port" -storageDataPath="$vm_dir/data" \
        -retentionPeriod=1d -loggerLevel=ERROR >"$vm_dir/vm.log" 2>&1 &
    vm_pid=$!
    i=0
    until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$vm_pid" 2>/dev/null; then
            echo "run.sh: VictoriaMetrics did not start (see $vm_dir/vm.log); going on without it" >&2
            cat "$vm_dir/vm.log" >&2 || true
            kill "$vm_pid" 2>/dev/null || true
            vm_pid=
            break
        fi
        sleep 0.1
    done
    if [ -n "$vm_pid" ]; then
        echo "run.sh: VictoriaMetrics on http://127.0.0.1:$port (pid $vm_pid)"
        set -- --vm "http://127.0.0.1:$port" "$@"
    fi
fi

echo "run.sh: TROPT_PLUGIN_PATH=$TROPT_PLUGIN_PATH"
"$build/bench/tropt-bench" "$@"

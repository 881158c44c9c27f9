#!/usr/bin/env bash
# build.sh - the two commands of the README's quick start.
#
#   ./build.sh demo   install what is missing, build, install, then run the
#                     example optimizer into the embedded sqlite default
#                     (./tropt.db) and show the run
#   ./build.sh test   install what is missing, build with warnings as errors,
#                     run the whole suite (with the fuzz targets and a
#                     benchmark smoke pass), then again under ASan+UBSan,
#                     then under ThreadSanitizer, then the core, ABI and
#                     security suites under valgrind; ends with
#                     "N passed, N failed"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

PACKAGES=(meson ninja-build pkg-config gcc g++ binutils libjansson-dev check
          libsqlite3-dev sqlite3 libcurl4-openssl-dev python3 python3-pandas
          victoria-metrics clang libclang-rt-14-dev clang-format valgrind openssl
          postgresql libpq-dev chromium influxdb python3-numpy python3-psycopg2
          libjs-dygraphs python3-protobuf protobuf-compiler)

install_deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "build.sh: missing packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "build.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

configure() { # dir, extra meson args...
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

cmd_demo() {
    install_deps
    # only what the demo needs: the library, the plugins, the tools (no tests)
    configure build-demo -Dwerror=true -Dtests=disabled
    ninja -C build-demo
    meson install -C build-demo --quiet
    ldconfig
    echo
    echo "== tropt-demo (Adam on Rosenbrock) logging to the embedded default, sqlite:path=tropt.db"
    out=$(tropt-demo)
    echo "$out"
    # the run's name, as the last line gives it: "run <id> (<name>) finished: ..."
    name=$(echo "$out" | sed -n 's/^run [0-9a-f-]* (\(.*\)) finished.*/\1/p')
    echo
    echo "== tropt runs"
    tropt runs
    echo
    echo "== tropt show $name"
    tropt show "$name"
}

# Run the suite of one build folder; its results are summed by .ci/count.py.
run_suite() {
    local dir=$1
    meson test -C "$dir" --num-processes 2 --print-errorlogs --timeout-multiplier "${2:-1}" || true
}

cmd_test() {
    install_deps
    # -Dfuzz: the test 'fuzz' replays each libFuzzer target's committed
    # corpus, then FUZZ_RUNS mutations from a fixed seed: the same inputs on
    # every machine (fuzz/run.sh; exploring for new bugs is FUZZ_SECONDS)
    export FUZZ_RUNS=${FUZZ_RUNS:-20000}
    configure build -Dwerror=true -Dbench=true -Dfuzz=true
    ninja -C build
    run_suite build 1
    configure build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
    ninja -C build-asan
    run_suite build-asan 3
    # ThreadSanitizer: the suites whose code runs threads (the tracker's lock,
    # the checkpoint hasher, the system sampler, the http and pg senders,
    # the stores' concurrent writers and readers, the kit's threads promise);
    # a race report fails the test (exit 66).  The CLI, report, Python, ABI
    # and tensorboard suites drive single-threaded code and run plainly and
    # under ASan.  ASLR off for the tests: gcc 12's TSan cannot map its
    # shadow memory on kernels with vm.mmap_rnd_bits > 28.
    configure build-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false
    ninja -C build-tsan
    setarch "$(uname -m)" -R \
        meson test -C build-tsan --num-processes 2 --print-errorlogs --timeout-multiplier 4 \
        --suite core --suite sys --suite http --suite pg --suite reliability \
        --suite conformance --suite sqlite --suite csv --suite jsonl || true
    # memcheck (CK_FORK=no, leaks are errors) over the core, the ABI and
    # CLI suites and the security suite; the dtoa property test's million
    # doubles and the backends' I/O-heavy suites run under ASan instead
    meson test -C build --setup valgrind --num-processes 2 --print-errorlogs \
        core-tracker core-spec core-fields print-backend security \
        abi-broken abi-searchpath abi-symbols abi-layout abi-cli abi-thirdparty || true
    /usr/bin/python3 .ci/count.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
        build-tsan/meson-logs/testlog.json build/meson-logs/testlog-valgrind.json
}

case "${1:-}" in
demo) cmd_demo ;;
test) cmd_test ;;
*)
    echo "usage: ./build.sh demo|test" >&2
    exit 2
    ;;
esac

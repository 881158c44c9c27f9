#!/usr/bin/env python3
"""Speed of the tropt_tracker Python binding, as ratios against hand-written
Python baselines measured in the same run (see bench/README.md).

    python3 bench/python/bench_tracker.py [--steps N] [--smoke]

Run it against an installed tropt, or against a build tree with
    TROPT_LIBRARY=build/core/libtropt.so TROPT_PLUGIN_PATH=build/plugins/null:build/plugins/sqlite \
    PYTHONPATH=python python3 bench/python/bench_tracker.py
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

import tropt_tracker
from tropt_tracker import Tracker

DATA = {f"metric_{i}": 0.1 * i + 1e-3 for i in range(10)}


def steps_of(n):
    # A fresh dict per step, as an optimizer builds one.
    return [{k: v + s * 1e-6 for k, v in DATA.items()} for s in range(n)]


def timed(fn, reps=3):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def percentiles(call, items):
    ns = []
    pc = time.perf_counter_ns
    for d in items:
        t0 = pc()
        call(d)
        ns.append(pc() - t0)
    ns.sort()
    return ns[len(ns) // 2] / 1000, ns[int(len(ns) * 0.99)] / 1000


def bench_null(n):
    items = steps_of(n)
    t = Tracker("null")
    t.init()
    log = t.log
    dumps = json.dumps

    def ours():
        for d in items:
            log(d)

    def base():
        for d in items:
            dumps(d)

    a, b = timed(ours), timed(base)
    p50, p99 = percentiles(log, items[: min(n, 20000)])
    t.finish()
    t.close()
    return a / n * 1e6, b / n * 1e6, p50, p99


def sqlite_baseline(path, items, commit_every):
    con = sqlite3.connect(path, isolation_level=None)
    # Same durability as tropt's sqlite backend: WAL, synchronous=NORMAL.
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE metrics(run_id TEXT, step INTEGER, time REAL, key TEXT, value)")
    run = "0190a0b0-0000-7000-8000-000000000000"
    con.execute("BEGIN")
    pending = 0
    for step, d in enumerate(items):
        now = time.time()
        con.executemany("INSERT INTO metrics VALUES (?,?,?,?,?)",
                        [(run, step, now, k, v) for k, v in d.items()])
        pending += 1
        if pending >= commit_every:
            con.execute("COMMIT")
            con.execute("BEGIN")
            pending = 0
    con.execute("COMMIT")
    con.close()


def bench_sqlite(n, commit_every, tmp):
    items = steps_of(n)
    i = [0]

    def path():
        i[0] += 1
        return os.path.join(tmp, f"b{commit_every}-{i[0]}.db")

    def ours():
        spec = f"sqlite:path={path()}" + (f",commit_every={commit_every}" if commit_every > 1 else "")
        t = Tracker(spec)
        t.init()
        log = t.log
        for d in items:
            log(d)
        t.finish()
        t.close()

    def base():
        sqlite_baseline(path(), items, commit_every)

    a, b = timed(ours), timed(base)
    spec = f"sqlite:path={path()}" + (f",commit_every={commit_every}" if commit_every > 1 else "")
    t = Tracker(spec)
    t.init()
    p50, p99 = percentiles(t.log, items[: min(n, 20000)])
    t.finish()
    t.close()
    return a / n * 1e6, b / n * 1e6, p50, p99


def import_ms():
    code = ("import time; t = time.perf_counter(); import tropt_tracker; "
            "print((time.perf_counter() - t) * 1000)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(5)]
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--smoke", action="store_true", help="tiny run: checks the script works")
    args = ap.parse_args()
    n = 200 if args.smoke else args.steps
    print(f"tropt_tracker {tropt_tracker.__version__} ({tropt_tracker.library_path}), "
          f"Python {sys.version.split()[0]}, {n} steps of 10 float fields")
    print(f"{'case':44} {'ours us':>9} {'base us':>9} {'ratio':>7} {'target':>8} "
          f"{'p50 us':>8} {'p99 us':>8}")
    ok = True
    a, b, p50, p99 = bench_null(n * 2)
    r = a / b
    print(f"{'null log vs json.dumps (cost ratio)':44} {a:9.2f} {b:9.2f} {r:6.2f}x {'<=1.0x':>8} "
          f"{p50:8.2f} {p99:8.2f}")
    ok &= r <= 1.0
    with tempfile.TemporaryDirectory(prefix="tropt-pybench-") as tmp:
        a, b, p50, p99 = bench_sqlite(n, 1000, tmp)
        r = b / a
        print(f"{'sqlite commit_every=1000 vs sqlite3 (speed)':44} {a:9.2f} {b:9.2f} {r:6.2f}x "
              f"{'>=2.0x':>8} {p50:8.2f} {p99:8.2f}")
        ok &= r >= 2.0
        m = max(n // 10, 100)
        a, b, p50, p99 = bench_sqlite(m, 1, tmp)
        r = b / a
        print(f"{'sqlite durable vs sqlite3 per-step commit':44} {a:9.2f} {b:9.2f} {r:6.2f}x "
              f"{'>=1.0x':>8} {p50:8.2f} {p99:8.2f}")
        ok &= r >= 1.0
    ms = import_ms()
    print(f"{'import tropt_tracker (ms, median of 5)':44} {ms:9.1f} {'':9} {'':7} {'<50 ms':>8}")
    ok &= ms < 50
    print("all targets met" if ok else "some target missed (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

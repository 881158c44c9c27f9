#!/usr/bin/env python3
"""Speed of the tropt_tracker Python binding, as ratios against hand-written
Python baselines measured in the same run (see bench/README.md).

    python3 bench/python/bench_tracker.py [--steps N] [--smoke]

Run it against an installed tropt, or against a build tree with
    TROPT_LIBRARY=build/core/libtropt.so TROPT_PLUGIN_PATH=$PWD/build/plugins \
    PYTHONPATH=python python3 bench/python/bench_tracker.py
"""
import argparse
import importlib.util
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
# tropt itself, else the tests' stand-in of it (tropt's BaseTracker as published).
STANDIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "python",
                       "standin")


class Tensor:
    """A scalar tensor as tropt logs them (torch's 0-d tensor: .item() and
    .tolist() give the Python number); the library is never imported."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def item(self):
        return self.v

    def tolist(self):
        return self.v


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

    a, b = alternating(ours, base)
    p50, p99 = percentiles(log, items[: min(n, 20000)])
    t.finish()
    t.close()
    return a / n * 1e6, b / n * 1e6, p50, p99


def tropt_steps(n, tensor):
    """tropt's step dict: loss and best_loss (tensors, or floats), the
    trigger string, loss/<k> floats."""
    out = []
    for s in range(n):
        loss = 1.0 / (s + 2)
        out.append({"loss": tensor(loss), "best_loss": tensor(loss * 0.5),
                    "trigger_str": "! ! ! x%d" % (s % 97), "loss/0": loss + 0.1,
                    "loss/1": loss + 0.2, "loss/2": loss + 0.3, "grad_norm": 1e-3 * s})
    return out


def bench_tropt(n):
    """TroptTracker.log of tropt's step dict with two tensor-like values
    vs the plain Tracker.log of the same dict with floats, both to null,
    timed in alternating rounds."""
    if importlib.util.find_spec("tropt") is None:
        sys.path.insert(0, STANDIN)
    from tropt_tracker.tropt import TroptTracker
    tensors, floats = tropt_steps(n, Tensor), tropt_steps(n, float)
    ours_t, base_t = TroptTracker("null"), Tracker("null")
    ours_t.init()
    base_t.init()

    def ours(log=ours_t.log):
        for d in tensors:
            log(d)

    def base(log=base_t.log):
        for d in floats:
            log(d)

    a, b = alternating(ours, base)
    p50, p99 = percentiles(ours_t.log, tensors[: min(n, 20000)])
    ours_t.finish()
    ours_t.close()
    base_t.finish()
    base_t.close()
    return a / n * 1e6, b / n * 1e6, p50, p99


def alternating(ours, base, rounds=7):
    """Best CPU time of this thread in each of two loops (both run on this
    thread only: the null backend starts none), run in alternating rounds:
    time other processes take from a shared machine is not counted, and a
    burst of cache pressure hits both alike."""
    ours()
    base()
    a = b = float("inf")
    clock = time.thread_time
    for r in range(rounds):
        for which in ((0, 1) if r % 2 == 0 else (1, 0)):
            t0 = clock()
            (ours if which == 0 else base)()
            dt = clock() - t0
            if which == 0:
                a = min(a, dt)
            else:
                b = min(b, dt)
    return a, b


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
    a, b, p50, p99 = bench_tropt(n)
    r = a / b
    print(f"{'TroptTracker.log, 2 tensors vs Tracker.log':44} {a:9.2f} {b:9.2f} {r:6.2f}x "
          f"{'<=1.5x':>8} {p50:8.2f} {p99:8.2f}")
    ok &= r <= 1.5
    ms = import_ms()
    print(f"{'import tropt_tracker (ms, median of 5)':44} {ms:9.1f} {'':9} {'':7} {'<50 ms':>8}")
    ok &= ms < 50
    print("all targets met" if ok else "some target missed (see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

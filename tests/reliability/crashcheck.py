"""Check what a csv backend left on disk after its process was killed
(tests/reliability/test_crash.c).  Run with /usr/bin/python3.

  crashcheck.py RUN_DIR FLAGS MIN MAX [RUN_DIR FLAGS MIN MAX ...]

(one group of four per killed run; FLAGS: 1 a new key per step, 2 a
6000-byte string every 16th step, 3 both).  RUN_DIR holds metrics.csv (wide) and maybe metrics.pending.csv (long, the
rows deferred while header rewrites are bounded).  Both must parse with
the csv module in strict mode and end with CRLF; metrics.csv rows hold steps
0, 1, ... in order; together the two files hold steps 0..N-1 with
MIN <= N <= MAX, each with exactly the values step_fields() gives (the same
generator as gen_step() in test_crash.c).  A step in both files (the
pending file not yet removed after a rewrite folded it in) must be the same
in both.  Prints "OK ..." per run and exits 0, or prints what is wrong with
the first bad run and exits 1.
"""
import csv
import json
import math
import os
import sys


WHERE = ""


def fail(msg):
    print(f"FAIL: {WHERE}: {msg}")
    sys.exit(1)


def step_fields(s, newkeys, pad=False):
    """key -> (type, value) of step s, as test_crash.c gen_step() logs it."""
    if s % 10 == 3:
        x = math.nan
    elif s % 10 == 7:
        x = -math.inf
    else:
        x = (s + 1) / 7.0
    f = {
        "i": ("int", s),
        "big": ("int", 9223372036854775807 - s),
        "x": ("real", x),
        "ok": ("bool", s % 2 == 0),
        "s": ("str", 'row "%d",\r\n\u00e9\u20ac' % s),
        "arr": ("json", [s, "a"]),
        "none": ("null", None),
    }
    if pad and s % 16 == 5:
        f["pad"] = ("str", "".join(chr(97 + (s + j) % 26) for j in range(6000)))
    if newkeys:
        f["k%d" % s] = ("int", s)
    return f


def check_cell(typ, want, cell, where):
    if typ == "int":
        if cell != str(want):
            fail(f"{where}: {cell!r} != {want}")
    elif typ == "real":
        try:
            got = float(cell)
        except ValueError:
            fail(f"{where}: {cell!r} is not a real")
        if math.isnan(want):
            if not math.isnan(got) or cell != "nan":
                fail(f"{where}: {cell!r}, logged NaN")
        elif got != want or math.copysign(1, got) != math.copysign(1, want):
            fail(f"{where}: {cell!r} reads back as {got!r}, logged {want!r}")
    elif typ == "bool":
        if cell != ("true" if want else "false"):
            fail(f"{where}: {cell!r}, logged {want}")
    elif typ == "str":
        if cell != want:
            fail(f"{where}: {cell!r} != {want!r}")
    elif typ == "json":
        if json.loads(cell) != want:
            fail(f"{where}: {cell!r} != {want!r}")
    elif typ == "null":
        if cell != "":
            fail(f"{where}: null written as {cell!r}")


def records(path):
    raw = open(path, "rb").read()
    if not raw.endswith(b"\r\n"):
        fail(f"{path} ({len(raw)} bytes) does not end with CRLF: {raw[-80:]!r}")
    with open(path, newline="", encoding="utf-8") as f:
        try:
            return list(csv.reader(f, strict=True))
        except csv.Error as e:
            fail(f"{path}: {e}")


def check_run(run_dir, newkeys, pad, lo, hi):
    metrics = os.path.join(run_dir, "metrics.csv")
    pending = os.path.join(run_dir, "metrics.pending.csv")
    recs = records(metrics)
    header = recs[0]
    if header[:2] != ["step", "time"] or len(set(header)) != len(header):
        fail(f"header {header[:20]!r}")
    steps = {}  # step -> {key: cell}
    for n, r in enumerate(recs[1:]):
        if len(r) != len(header):
            fail(f"metrics.csv row {n}: {len(r)} cells, header has {len(header)}")
        if r[0] != str(n):
            fail(f"metrics.csv row {n} holds step {r[0]!r}")
        float(r[1])
        steps[n] = {k: c for k, c in zip(header[2:], r[2:]) if c != "" or k in step_fields(n, newkeys, pad)}
    rows = len(steps)
    deferred = 0
    # A pending file cut right after its creation (before its header) is
    # empty: it holds no row yet.
    if os.path.exists(pending) and os.path.getsize(pending) > 0:
        precs = records(pending)
        if precs[0] != ["step", "time", "key", "value"]:
            fail(f"pending header {precs[0]!r}")
        got = {}
        for r in precs[1:]:
            if len(r) != 4:
                fail(f"pending record {r!r}")
            float(r[1])
            got.setdefault(int(r[0]), {})
            if r[2] in got[int(r[0])]:
                fail(f"pending: step {r[0]} key {r[2]!r} twice")
            got[int(r[0])][r[2]] = r[3]
        for s, cells in got.items():
            if s in steps:
                if steps[s] != cells:
                    fail(f"step {s} differs between metrics.csv and metrics.pending.csv")
            else:
                steps[s] = cells
                deferred += 1
    top = max(steps) + 1 if steps else 0
    if set(steps) != set(range(top)):
        fail(f"steps have a gap: {sorted(set(range(top)) - set(steps))[:10]}")
    if not lo <= top <= hi:
        fail(f"steps 0..{top - 1} on disk; log returned for 0..{lo - 1} (at most one more in flight)")
    for s in range(top):
        want = step_fields(s, newkeys, pad)
        if set(steps[s]) != set(want):
            fail(f"step {s}: keys {sorted(steps[s])} != {sorted(want)}")
        for k, (t, v) in want.items():
            check_cell(t, v, steps[s][k], f"step {s} key {k!r}")
    print(f"OK {top} steps: {rows} rows in metrics.csv, {deferred} pending, {len(header)} columns")


def main():
    global WHERE
    args = sys.argv[1:]
    if not args or len(args) % 4:
        fail("usage: crashcheck.py RUN_DIR FLAGS MIN MAX ...")
    for k in range(0, len(args), 4):
        WHERE = args[k]
        flags = int(args[k + 1])
        check_run(args[k], bool(flags & 1), bool(flags & 2), int(args[k + 2]), int(args[k + 3]))


if __name__ == "__main__":
    main()

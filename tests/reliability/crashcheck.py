"""Check what a csv backend left on disk after its process was killed
(tests/reliability/test_crash.c).  Run with /usr/bin/python3.

  crashcheck.py RUN_DIR FLAGS MIN MAX [RUN_DIR FLAGS MIN MAX ...]

(one group of four per killed run; FLAGS: 1 a new key per step, 2 a
6000-byte string every 16th step, 3 both).  RUN_DIR holds metrics.csv
(wide) and maybe metrics.pending.csv (long, the rows deferred while header
rewrites are bounded).  Both must parse with the csv module in strict mode
as rectangular records ending with CRLF, except for the one cut record
plugins/csv/README.md allows a kill to leave: the start of the row of the
step whose log was in flight (MIN), which is left aside; metrics.csv rows
hold steps 0, 1, ... in order; together the two files hold steps 0..N-1 with
MIN <= N <= MAX, each with exactly the values step_fields() gives (the same
generator as gen_step() in test_crash.c).  A step in both files (the
pending file not yet removed after a rewrite folded it in) must be the same
in both.  Prints "OK ..." per run and exits 0, or prints what is wrong with
the first bad run and exits 1.
"""
import csv
import io
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
    elif typ == "null":  # the cell "null" (plugins/csv/README.md "Types")
        if cell != "null":
            fail(f"{where}: null written as {cell!r}")


def parse(text):
    """Records of CSV text, strict; None when it does not parse."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error:
        return None


TORN = []  # (path, bytes) of each torn last record left aside


def records(path, inflight):
    """The file's records.  A file that does not end with CRLF may end with
    the first part of one record cut by the kill (the kernel can stop a
    write(2) between two pages): only the record of the step whose log was
    in flight, starting at a record boundary.  It is left aside and noted."""
    raw = open(path, "rb").read()
    if raw.endswith(b"\r\n"):
        recs = parse(raw.decode("utf-8", errors="replace"))
        if recs and len({len(r) for r in recs}) == 1:
            return recs, False
    # The cut record starts after the last CRLF that ends a valid prefix.
    pos = len(raw)
    while True:
        pos = raw.rfind(b"\r\n", 0, pos)
        if pos < 0:
            fail(f"{path} ({len(raw)} bytes) does not end with CRLF: {raw[-80:]!r}")
        head, tail = raw[: pos + 2], raw[pos + 2 :]
        try:
            recs = parse(head.decode("utf-8"))
        except UnicodeDecodeError:
            recs = None
        if recs and len({len(r) for r in recs}) == 1:
            break
    start = b"%d," % inflight
    if not (tail.startswith(start) or start.startswith(tail)):
        fail(f"{path} ends with a cut record that is not step {inflight}'s, the one in flight: "
             f"{tail[:80]!r}")
    TORN.append((path, len(tail)))
    return recs, True


def check_run(run_dir, newkeys, pad, lo, hi):
    metrics = os.path.join(run_dir, "metrics.csv")
    pending = os.path.join(run_dir, "metrics.pending.csv")
    recs, _ = records(metrics, lo)
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
        logged = step_fields(n, newkeys, pad)  # once per row, not per cell
        steps[n] = {k: c for k, c in zip(header[2:], r[2:]) if c != "" or k in logged}
    rows = len(steps)
    deferred = 0
    # A pending file cut right after its creation (before its header) is
    # empty: it holds no row yet.
    if os.path.exists(pending) and os.path.getsize(pending) > 0:
        precs, torn = records(pending, lo)
        if torn:  # the write of step lo's records was cut: none of them count
            precs = [r for r in precs if r[0] != str(lo)]
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
    torn = "".join(f", a torn record of step {lo} ({n} bytes) in {os.path.basename(p)}" for p, n in TORN)
    TORN.clear()
    print(f"OK {top} steps: {rows} rows in metrics.csv, {deferred} pending, {len(header)} columns{torn}")


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

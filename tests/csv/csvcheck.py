"""Read a csv backend's files back with real CSV parsers and compare them to
what the C test logged.  Run with /usr/bin/python3 (Debian's, with pandas).

  csvcheck.py values METRICS EXPECT.json   every value, csv module + pandas
  csvcheck.py cover METRICS PENDING MIN    a valid file (plus the deferred
                                           rows of PENDING, if it exists)
                                           holding steps 0..MIN-1 at least
  csvcheck.py steps METRICS                the step cell of every record,
                                           in file order ("OK n: s0 s1 ...")
  csvcheck.py typed METRICS EXPECT.json    every value typed by the rule of
                                           plugins/csv/README.md "Types"
                                           (types.csv beside METRICS),
                                           written here from the README,
                                           not from the C reader

typed EXPECT.json: {"layout": "wide"|"long", "values": [[row, key, type,
value], ...]}: every logged value in file order (row: the data record of
metrics.csv, 0-based), type/value as below.

EXPECT.json: {"layout": "wide"|"long", "columns": [...] (wide),
              "rows": [{"step": N, "cells": [[key, column, type, value]...]}]}
type/value: "real" + hex bits, "int" + decimal, "bool" + true|false,
"str" + text, "json" + JSON text, "null" + "" (the cell "null"); a wide
column a row has no cell for must be empty (not logged).
Optional "types": [[row, key, type], ...], the records types.csv must
hold, read with the csv module and pandas.
Prints "OK ..." and exits 0, or prints what differs and exits 1.
"""
import csv
import io
import json
import math
import os
import struct
import sys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def real_of(hexbits):
    return struct.unpack("<d", struct.pack("<Q", int(hexbits, 16)))[0]


def same_real(exp_hex, got):
    exp = real_of(exp_hex)
    if math.isnan(exp):
        return math.isnan(got)
    return bits(got) == int(exp_hex, 16)


def check_text(typ, val, cell, where):
    """The cell text as Python's csv module returns it."""
    if typ == "real":
        try:
            got = float(cell)
        except ValueError:
            fail(f"{where}: {cell!r} is not a real")
        if not same_real(val, got):
            fail(f"{where}: {cell!r} reads back as {got!r}, logged {real_of(val)!r}")
    elif typ == "int":
        if cell != val or int(cell) != int(val):
            fail(f"{where}: {cell!r} != {val}")
    elif typ == "json":
        if json.loads(cell) != json.loads(val):
            fail(f"{where}: {cell!r} != {val!r}")
    elif typ == "null":
        if cell != "null":
            fail(f"{where}: null written as {cell!r}")
    elif typ == "absent":
        if cell != "":
            fail(f"{where}: a key not logged written as {cell!r}")
    elif cell != val:  # str, bool
        fail(f"{where}: {cell!r} != {val!r}")


def read_records(path):
    raw = open(path, "rb").read()
    if not raw.endswith(b"\r\n"):
        fail(f"{path} does not end with CRLF")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f, strict=True))


def check_types(path, want):
    """types.csv beside metrics.csv holds exactly the records want."""
    tpath = os.path.join(os.path.dirname(path), "types.csv")
    recs = read_records(tpath)
    if recs[0] != ["row", "key", "type"]:
        fail(f"types.csv header {recs[0]!r}")
    got = [[int(r[0]), r[1], r[2]] for r in recs[1:]]
    if got != want:
        fail(f"types.csv {got!r} != {want!r}")
    try:
        import pandas as pd
    except ImportError:
        return
    df = pd.read_csv(tpath, dtype={"row": "int64", "key": str, "type": str},
                     keep_default_na=False)
    if df.values.tolist() != want:
        fail(f"pandas reads types.csv as {df.values.tolist()!r}")


def values(path, expect_path):
    exp = json.load(open(expect_path, encoding="utf-8"))
    recs = read_records(path)
    if "types" in exp:
        check_types(path, exp["types"])
    try:
        import pandas as pd
    except ImportError:  # python3-pandas not installed: the csv module alone
        pd = None
    note = "" if pd else " (pandas not installed: csv module only)"

    if exp["layout"] == "wide":
        header = recs[0]
        if header != exp["columns"]:
            fail(f"header {header!r} != {exp['columns']!r}")
        if len(recs) - 1 != len(exp["rows"]):
            fail(f"{len(recs) - 1} rows, logged {len(exp['rows'])}")
        for i, (r, e) in enumerate(zip(recs[1:], exp["rows"])):
            if len(r) != len(header):
                fail(f"row {i}: {len(r)} cells, header has {len(header)}")
            if r[0] != str(e["step"]):
                fail(f"row {i}: step {r[0]!r} != {e['step']}")
            float(r[1])
            cells = {col: (t, v) for _, col, t, v in e["cells"]}
            for j, col in enumerate(header[2:], 2):
                t, v = cells.get(col, ("absent", ""))
                check_text(t, v, r[j], f"csv row {i} column {col!r}")
        if pd is None:
            print(f"OK wide {len(recs) - 1} rows {len(header)} columns{note}")
            return
        # pandas, text: the same cells as the csv module
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if list(df.columns) != header:
            fail(f"pandas header {list(df.columns)!r}")
        if df.values.tolist() != [r for r in recs[1:]]:
            fail("pandas cells differ from the csv module's")
        # pandas, typed: reals with the round-trip converter, ints exact
        types = {}
        for e in exp["rows"]:
            for _, col, t, _ in e["cells"]:
                types.setdefault(col, set()).add(t)
        conv = {c: (lambda s: int(s) if s else None) for c, ts in types.items() if ts == {"int"}}
        dt = pd.read_csv(path, float_precision="round_trip", converters=conv)
        for i, e in enumerate(exp["rows"]):
            if int(dt["step"][i]) != e["step"]:
                fail(f"pandas row {i} step")
            for _, col, t, v in e["cells"]:
                got = dt[col][i]
                where = f"pandas row {i} column {col!r}"
                if t == "real":
                    g = float(got)
                    if not same_real(v, g):
                        fail(f"{where}: {g!r} != {real_of(v)!r}")
                elif t == "int" and col in conv:
                    if got != int(v):
                        fail(f"{where}: {got!r} != {v}")
                elif t == "null":
                    if not (got is None or (isinstance(got, float) and math.isnan(got))):
                        fail(f"{where}: null read as {got!r}")
        print(f"OK wide {len(recs) - 1} rows {len(header)} columns")
    else:
        if recs[0] != ["step", "time", "key", "value"]:
            fail(f"long header {recs[0]!r}")
        # a step without fields is one record "step,time,,"
        want = [(e["step"], key, t, v) for e in exp["rows"]
                for key, _, t, v in (e["cells"] or [["", "", "absent", ""]])]
        if len(recs) - 1 != len(want):
            fail(f"{len(recs) - 1} records, logged {len(want)} values")
        for i, (r, (step, key, t, v)) in enumerate(zip(recs[1:], want)):
            if len(r) != 4 or r[0] != str(step) or r[2] != key:
                fail(f"record {i}: {r!r} expected step {step} key {key!r}")
            float(r[1])
            check_text(t, v, r[3], f"record {i} key {key!r}")
        if pd is None:
            print(f"OK long {len(recs) - 1} records{note}")
            return
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if df.values.tolist() != [r for r in recs[1:]]:
            fail("pandas cells differ from the csv module's")
        # pandas' own float parser on the real values' texts
        reals = [(i, v) for i, (_, _, t, v) in enumerate(want) if t == "real"]
        if reals:
            import io
            text = "v\n" + "\n".join(recs[1 + i][3] for i, _ in reals) + "\n"
            col = pd.read_csv(io.StringIO(text), dtype={"v": float},
                              float_precision="round_trip")["v"]
            for (i, v), g in zip(reals, col):
                if not same_real(v, float(g)):
                    fail(f"pandas record {i}: {g!r} != {real_of(v)!r}")
        print(f"OK long {len(recs) - 1} records")


def typed_value(t, cell, quoted):
    """A cell's value by the README's rule for a key recorded as type t:
    (type, value) in EXPECT's terms, or None for a cell holding nothing."""
    if cell == "" and not quoted:
        return None
    if t == "string":
        return ("str", cell)
    if cell == "null":
        return ("null", "")
    if t == "int":
        int(cell)
        return ("int", cell)
    if t == "real":
        return ("real", "%016x" % bits(float(cell)))
    if t == "bool":
        if cell not in ("true", "false"):
            fail(f"{cell!r} is not a bool")
        return ("bool", cell)
    if t == "json":
        return ("json", json.dumps(json.loads(cell), separators=(",", ":")))
    fail(f"{cell!r} under type {t!r}")


def quoted_cells(path):
    """For each data record, which cells were "double-quoted" (the csv
    module drops that; the README needs it only to tell "" from an empty
    cell, so: a cell is quoted when its text is empty and the raw record
    shows "" there)."""
    raw = open(path, "rb").read().decode("utf-8", "surrogateescape")
    out, cells, cur, inq, was_q, i = [], [], "", False, False, 0
    while i < len(raw):
        ch = raw[i]
        if inq:
            if ch == '"' and raw[i + 1:i + 2] == '"':
                i += 1
            elif ch == '"':
                inq = False
        elif ch == '"' and cur == "" and not was_q:
            inq = was_q = True
        elif ch in ",\n":
            cells.append(was_q)
            cur, was_q = "", False
            if ch == "\n":
                out.append(cells)
                cells = []
        elif ch != "\r":
            cur += ch
        i += 1
    return out[1:]


def typed(path, expect_path):
    exp = json.load(open(expect_path, encoding="utf-8"))
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        recs = list(csv.reader(f, strict=True))
    quoted = quoted_cells(path)
    tpath = os.path.join(os.path.dirname(path), "types.csv")
    with open(tpath, newline="", encoding="utf-8", errors="surrogateescape") as f:
        trecs = list(csv.reader(f, strict=True))
    if trecs[0] != ["row", "key", "type"]:
        fail(f"types.csv header {trecs[0]!r}")
    records = [(int(r[0]), r[1], r[2]) for r in trecs[1:]]
    if [r[0] for r in records] != sorted(r[0] for r in records):
        fail("types.csv records are not in row order")
    header = recs[0]
    wide = exp["layout"] == "wide"
    if header[:2] != ["step", "time"] or (not wide and header != ["step", "time", "key", "value"]):
        fail(f"header {header!r}")
    inforce, k, got = {}, 0, []
    for row, rec in enumerate(recs[1:]):
        if len(rec) != len(header):
            fail(f"row {row}: {len(rec)} cells, header has {len(header)}")
        while k < len(records) and records[k][0] <= row:
            inforce[records[k][1]] = records[k][2]
            k += 1
        cells = [(c, rec[c]) for c in range(2, len(rec))] if wide else [(3, rec[3])]
        for c, text in cells:
            key = (header[c][1:] if header[c].startswith("_") and header[c].lstrip("_") in
                   ("step", "time") else header[c]) if wide else rec[2]
            if text == "" and not quoted[row][c]:
                continue  # not logged
            if key not in inforce:
                fail(f"row {row}: key {key!r} has no type record in force")
            v = typed_value(inforce[key], text, quoted[row][c])
            if v is not None:
                got.append([row, key, v[0], v[1]])
    want = [[r, key, t, json.dumps(json.loads(v), separators=(",", ":")) if t == "json" else v]
            for r, key, t, v in exp["values"]]
    if got != want:
        for g, w in zip(got, want):
            if g != w:
                fail(f"read {g!r}, logged {w!r}")
        fail(f"{len(got)} values read, {len(want)} logged")
    # pandas reads both files as they are: the same cells as the csv module,
    # and with its own typing (no options) without an error
    import pandas as pd
    for p_, rs in ((path, recs), (tpath, trecs)):
        df = pd.read_csv(p_, dtype=str, keep_default_na=False,
                         encoding="utf-8", encoding_errors="surrogateescape")
        if list(df.columns) != rs[0] or df.values.tolist() != rs[1:]:
            fail(f"pandas reads {p_} differently from the csv module")
    df = pd.read_csv(path, float_precision="round_trip", encoding_errors="surrogateescape")
    if len(df) != len(recs) - 1:
        fail(f"pandas: {len(df)} rows")
    print(f"OK {exp['layout']} {len(recs) - 1} records, {len(got)} values, "
          f"{len(records)} type records")


def cut_torn_tail(path):
    """A process killed inside a write(2) that spans two pages may leave the
    first part of that one row: the kernel stops such a write between pages
    (and that row's log had not returned).  Return the records before it and
    the number of bytes cut."""
    raw = open(path, "rb").read()
    inq = False
    end = 0
    for i, ch in enumerate(raw):
        if ch == 0x22:
            inq = not inq
        elif ch == 0x0A and not inq:
            end = i + 1
    text = raw[:end].decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), strict=True)), len(raw) - end


def cover(path, pending, minimum, killed=False):
    recs, torn = cut_torn_tail(path)
    if torn and not killed:
        fail(f"{path} does not end with CRLF")
    header = recs[0]
    if header[:2] != ["step", "time"]:
        fail(f"header {header!r}")
    for i, r in enumerate(recs[1:]):
        if len(r) != len(header):
            fail(f"row {i}: {len(r)} cells, header has {len(header)}")
        if r[0] != str(i):
            fail(f"row {i} holds step {r[0]}")
    n = len(recs) - 1
    steps = set(range(n))
    extra = 0
    if os.path.exists(pending):
        precs = read_records(pending)
        if precs[0] != ["step", "time", "key", "value"]:
            fail(f"pending header {precs[0]!r}")
        for r in precs[1:]:
            if len(r) != 4:
                fail(f"pending record {r!r}")
            steps.add(int(r[0]))
        extra = len(steps) - n
    top = max(steps) + 1 if steps else 0
    if steps != set(range(top)):
        fail("steps have a gap")
    if top < minimum:
        fail(f"only steps 0..{top - 1}; log returned for 0..{minimum - 1}")
    note = f", a torn last record of {torn} bytes (a killed write) left aside" if torn else ""
    print(f"OK {n} rows in metrics.csv, {extra} more steps pending, {len(header)} columns{note}")


if __name__ == "__main__":
    if sys.argv[1] == "values":
        values(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "typed":
        typed(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "steps":
        recs = read_records(sys.argv[2])
        if recs[0][:2] != ["step", "time"]:
            fail(f"header {recs[0]!r}")
        for r in recs[1:]:
            if len(r) != len(recs[0]):
                fail(f"record {r!r}: {len(r)} cells, header has {len(recs[0])}")
        print(f"OK {len(recs) - 1}:", " ".join(r[0] for r in recs[1:]))
    elif sys.argv[1] == "cover":
        cover(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:] == ["killed"])
    else:
        fail("unknown mode")

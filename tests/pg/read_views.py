#!/usr/bin/env python3
"""Read one run of the pg backend's views with psycopg2, as a user's pandas
would, and check every value type exactly.  argv: conninfo schema run_id."""
import json
import math
import struct
import sys

import psycopg2

conninfo, schema, run = sys.argv[1:4]
WEIRD = "a,b\"c\nd/e \u00e9\u20ac \U0001F600"


def value(kind, v, vi, vt):
    """The logged value back from (kind, value, value_int, value_text)."""
    if kind == "null":
        return None
    if kind == "bool":
        return bool(vi)
    if kind == "int":
        return vi
    if kind == "real":
        return v
    if kind == "string":
        return vt
    return json.loads(vt)


con = psycopg2.connect(conninfo)
cur = con.cursor()
cur.execute(f"SELECT key, kind, value, value_int, value_text FROM {schema}.metrics"
            " WHERE run_id = %s AND step = 0", (run,))
got = {k: value(kind, v, vi, vt) for k, kind, v, vi, vt in cur.fetchall()}


def bits(x):
    return struct.pack("<d", x)


expect = {
    "imax": 2**63 - 1, "imin": -2**63, "zero": 0, "yes": True, "no": False,
    "str": WEIRD, "empty": "", "nanstr": "NaN", "nothing": None,
    "arr": [0.5, 7, "x"], "obj": {},
}
reals = {"tenth": 0.1, "negzero": -0.0, "huge": 1e300, "denorm": 5e-324,
         "third": 1.0 / 3.0, "pinf": math.inf, "ninf": -math.inf,
         "a,b\"c\nd/e": 2.5}
bad = []
for k, want in expect.items():
    if k not in got or got[k] != want or type(got[k]) is not type(want):
        bad.append(f"{k}: {got.get(k)!r} != {want!r}")
for k, want in reals.items():
    if not isinstance(got.get(k), float) or bits(got[k]) != bits(want):
        bad.append(f"{k}: {got.get(k)!r} != {want!r}")
if not (isinstance(got.get("nan"), float) and math.isnan(got["nan"])):
    bad.append(f"nan: {got.get('nan')!r}")
cur.execute(f"SELECT status, config FROM {schema}.runs WHERE run_id = %s", (run,))
status, config = cur.fetchone()
if status != "finished" or json.loads(config)["big"] != 2**63 - 1:
    bad.append(f"runs: {status} {config}")
cur.execute(f"SELECT key, kind, value, value_int, value_text FROM {schema}.summary"
            " WHERE run_id = %s", (run,))
summ = {k: value(kind, v, vi, vt) for k, kind, v, vi, vt in cur.fetchall()}
if summ != {"best": 0.125, "n": -2**63, "note": WEIRD}:
    bad.append(f"summary: {summ!r}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("psycopg2: all values exact")

"""fields: steps as tropt_field arrays.  The prepared path (a step with the
shape of the previous one) and the general path must store the same
thing; key bytes must live until C has read them."""
import unittest

from helpers import TempDir, bits

from tropt_tracker import Tracker
from tropt_tracker.fields import KEYS_MAX


class Scalar:
    def __init__(self, v):
        self.v = v

    def item(self):
        return self.v


SQL_TYPE = {float: "real", int: "integer", bool: "integer", str: "text", type(None): "null"}


class TestFields(TempDir):
    def log_one(self, data):
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t:
            t.init()
            t.log(data)
        rows = self.query(path, "SELECT key, value, typeof(value) FROM metrics")
        return {k: (v, ty) for k, v, ty in rows}

    def test_repeated_shapes_keep_types(self):
        # Steps with the same keys take the prepared fast path; a change of a
        # value's type must still arrive as that type.
        path = self.db()
        seq = [{"x": 1, "y": 0.5}, {"x": 2, "y": 1.5}, {"x": 3.0, "y": 2.5},
               {"x": True, "y": -0.0}, {"x": False, "y": 1e308}, {"x": 4, "y": 5e-324},
               {"x": (1 << 63) - 1, "y": 0.25}, {"x": None, "y": 0.125}, {"x": "s", "y": 1.0},
               {"x": "t", "y": 2.0}, {"x": "ü", "y": 3.0}]
        with Tracker(f"sqlite:path={path}") as t:
            t.init()
            for d in seq:
                t.log(d)
                t.log(dict(d))
            with self.assertRaisesRegex(ValueError, "'x'"):
                t.log({"x": 1 << 63, "y": 0.5})
            t.log({"x": 5, "y": 0.5})
        rows = self.query(path, "SELECT step, key, value, typeof(value) FROM metrics "
                          "ORDER BY step, key")
        want = []
        for i, d in enumerate(seq):
            for step in (2 * i, 2 * i + 1):
                for k in ("x", "y"):
                    v = d[k]
                    want.append((step, k, int(v) if type(v) is bool else v, SQL_TYPE[type(v)]))
        want += [(2 * len(seq), "x", 5, "integer"), (2 * len(seq), "y", 0.5, "real")]
        self.assertEqual(rows, want)
        self.assertEqual(rows[13][:2], (6, "y"))
        self.assertEqual(bits(rows[13][2]), bits(-0.0))
        self.assertEqual(bits(rows[15][2]), bits(-0.0))

    def test_repeated_tensor_likes_keep_types(self):
        # The prepared path converts tensor-likes by their method; a tensor
        # whose number changes type arrives as that type.
        path = self.db()
        values = [0.5, 1.5, 2, True, 2.5, None, "s", 3.5]
        with Tracker(f"sqlite:path={path}") as t:
            t.init()
            for v in values:
                t.log({"loss": Scalar(v), "trigger_str": "! ! !", "best": 0.25})
        rows = self.query(path, "SELECT step, value, typeof(value) FROM metrics "
                          "WHERE key = 'loss' ORDER BY step")
        self.assertEqual(rows, [(i, int(v) if type(v) is bool else v, SQL_TYPE[type(v)])
                                for i, v in enumerate(values)])
        self.assertEqual(self.query(path, "SELECT DISTINCT value FROM metrics "
                                    "WHERE key = 'trigger_str'"), [("! ! !",)])

    def test_many_fields_grow_the_buffer(self):
        data = {f"k{i}": {"a": i, "b": {"c": float(i)}} for i in range(300)}
        got = self.log_one(data)
        self.assertEqual(len(got), 600)
        self.assertEqual(got["k299/b/c"], (299.0, "real"))

    KEYS = r"""
import sqlite3, tropt_tracker
from tropt_tracker.fields import KEYS_MAX
t = tropt_tracker.Tracker("null")
t.init()
for i in range(0, KEYS_MAX + 4096, 4096):  # fills the key cache
    t.log({f"fill{j}": j for j in range(i, i + 4096)})
s = tropt_tracker.Tracker("sqlite:path=keys.db")
s.init()
for i in range(200):  # keys met after the cache is full, general path
    s.log({f"new{i}": i, f"new{i}b": [i], "nested": {f"k{i}": i}})
for i in range(200):  # and the prepared path
    s.log({"late_a": i, "late_b": float(i)})
s.close()
"""

    def test_keys_after_the_cache_is_full(self):
        self.assertEqual(KEYS_MAX, 65536)
        self.child(self.KEYS, timeout=240)
        rows = self.query(f"{self.dir}/keys.db", "SELECT step, key, value FROM metrics")
        want = set()
        for i in range(200):
            want |= {(i, f"new{i}", i), (i, f"new{i}b", f"[{i}]"), (i, f"nested/k{i}", i)}
            want |= {(200 + i, "late_a", i), (200 + i, "late_b", float(i))}
        self.assertEqual(len(rows), len(want))
        self.assertEqual(set(rows), want)


if __name__ == "__main__":
    unittest.main()

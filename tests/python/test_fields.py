"""fields: steps as tropt_field arrays.  The prepared path (a step with the
shape of the previous one) and the general path must store the same
thing."""
import unittest

from helpers import TempDir, bits

from tropt_tracker import Tracker


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

    def test_many_fields_grow_the_buffer(self):
        data = {f"k{i}": {"a": i, "b": {"c": float(i)}} for i in range(300)}
        got = self.log_one(data)
        self.assertEqual(len(got), 600)
        self.assertEqual(got["k299/b/c"], (299.0, "real"))



if __name__ == "__main__":
    unittest.main()

"""values: how Python values are logged, read back from sqlite (types by
SQL typeof, reals bit for bit)."""
import json
import math
import os
import unittest

from helpers import TempDir, bits

from tropt_tracker import Tracker
from tropt_tracker.values import coerce, plain

try:
    import numpy
except ImportError:  # pragma: no cover
    numpy = None


class Scalar:
    """Tensor-like: a number behind .item() only (no __float__/__index__)."""

    def __init__(self, v):
        self.v = v

    def item(self):
        return self.v


class Array:
    """Tensor-like: values behind .tolist() and .item() (one element)."""

    def __init__(self, v):
        self.v = v

    def tolist(self):
        return self.v

    def item(self):
        raise ValueError("only one element tensors can be converted to Python scalars")


class Stubborn:
    """.tolist() and .item() give the object back (as numpy.longdouble's
    .tolist() does); __float__ is its only way out."""

    def tolist(self):
        return self

    def item(self):
        return self

    def __float__(self):
        return 0.25


class TestValues(TempDir):
    def log_one(self, data, summary=None, config=None):
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t:
            t.init(config)
            t.log(data)
            t.finish(summary)
        rows = self.query(path, "SELECT key, value, typeof(value) FROM metrics")
        return path, {k: (v, ty) for k, v, ty in rows}

    def test_edge_values_read_back_exactly(self):
        keys_odd = ["a,b", 'q"uote', "new\nline", "sl/ash", "ünï©ødé ✓", " "]
        data = {
            "i_min": -(1 << 63), "i_max": (1 << 63) - 1, "zero": 0,
            "denorm": 5e-324, "big": 1e308, "negzero": -0.0, "nan": math.nan,
            "inf": math.inf, "ninf": -math.inf, "third": 1 / 3,
            "empty": "", "uni": "日本語 ✓ é \u2028", "none": None,
            "t": True, "f": False, "list": [1, "x", None, True, 0.5, [2], "\\u0000"],
            "tuple": (1, 2), "emptylist": [], "emptydict": {},
            "nested": {"deep": {"er": 2.5}},
        }
        for i, k in enumerate(keys_odd):
            data[k] = i
        _, got = self.log_one(data)
        self.assertEqual(got["i_min"], (-(1 << 63), "integer"))
        self.assertEqual(got["i_max"], ((1 << 63) - 1, "integer"))
        self.assertEqual(got["zero"], (0, "integer"))
        for k in ("denorm", "big", "negzero", "inf", "ninf", "third"):
            self.assertEqual(got[k][1], "real", k)
            self.assertEqual(bits(got[k][0]), bits(data[k]), k)
        self.assertEqual(got["nan"], (None, "null"))  # the view's NaN (README)
        self.assertEqual(got["empty"], ("", "text"))
        self.assertEqual(got["uni"], (data["uni"], "text"))
        self.assertEqual(got["none"], (None, "null"))
        self.assertEqual(got["t"], (1, "integer"))
        self.assertEqual(got["f"], (0, "integer"))
        self.assertEqual(json.loads(got["list"][0]), [1, "x", None, True, 0.5, [2], "\\u0000"])
        self.assertEqual(json.loads(got["tuple"][0]), [1, 2])
        self.assertEqual(got["emptylist"], ("[]", "text"))
        self.assertEqual(got["emptydict"], ("{}", "text"))
        self.assertEqual(got["nested/deep/er"], (2.5, "real"))
        for i, k in enumerate(keys_odd):
            self.assertEqual(got[k], (i, "integer"), repr(k))
        self.assertEqual(len(got), len(data))

    def test_config_and_summary_read_back(self):
        cfg = {"lr": 0.1, "n": (1 << 63) - 1, "name": "é", "opt": {"beta": [0.9, 0.999]},
               "lr_t": Scalar(0.125)}
        path, _ = self.log_one({"x": 1}, summary={"best": 5e-324, "ok": True,
                                                   "prompt": Array(["a", "b"])}, config=cfg)
        params = dict(self.query(path, "SELECT key, value FROM params"))
        self.assertEqual(params["lr"], 0.1)
        self.assertEqual(params["n"], (1 << 63) - 1)
        self.assertEqual(params["name"], "é")
        self.assertEqual(params["opt/beta"], "[0.9,0.999]")
        self.assertEqual(params["lr_t"], 0.125)
        summary = dict(self.query(path, "SELECT key, value FROM summary"))
        self.assertEqual(bits(summary["best"]), bits(5e-324))
        self.assertEqual(summary["ok"], 1)
        self.assertEqual(json.loads(summary["prompt"]), ["a", "b"])

    @unittest.skipIf(numpy is None, "numpy not installed")
    def test_numpy_values(self):
        np = numpy
        _, got = self.log_one({
            "f64": np.float64(0.1), "f32": np.float32(0.1), "i64": np.int64(-(1 << 63)),
            "u8": np.uint8(255), "b": np.bool_(True), "arr": np.array([1, 2, 3]),
            "arr2": np.array([[0.5, 1.5]]), "s": np.str_("z"), "nan": np.float64("nan"),
            "zero_d": np.array(0.75), "one": np.array([2.5]),
            "ld": np.longdouble(0.5), "ninf": np.float32("-inf"),
        })
        self.assertEqual(got["f64"], (0.1, "real"))
        self.assertEqual(bits(got["f32"][0]), bits(float(np.float32(0.1))))
        self.assertEqual(got["i64"], (-(1 << 63), "integer"))
        self.assertEqual(got["u8"], (255, "integer"))
        self.assertEqual(got["b"], (1, "integer"))
        self.assertEqual(got["arr"], ("[1,2,3]", "text"))
        self.assertEqual(got["arr2"], ("[[0.5,1.5]]", "text"))
        self.assertEqual(got["s"], ("z", "text"))
        self.assertEqual(got["nan"], (None, "null"))
        self.assertEqual(got["zero_d"], (0.75, "real"))
        self.assertEqual(got["one"], ("[2.5]", "text"))  # shape kept: an array
        self.assertEqual(got["ld"], (0.5, "real"))
        self.assertEqual(got["ninf"], (-math.inf, "real"))
        with Tracker("null") as t:
            t.init()
            with self.assertRaisesRegex(ValueError, "'big'"):
                t.log({"big": np.uint64((1 << 64) - 1)})

    @unittest.skipIf(numpy is None, "numpy not installed")
    def test_longdouble_does_not_spin(self):
        # numpy.longdouble(...).tolist() is a longdouble again: once spun
        # forever at 100% CPU.  In a child, so a regression is a failure.
        out = self.child("import numpy, tropt_tracker\n"
                         "t = tropt_tracker.Tracker('sqlite:path=ld.db')\n"
                         "t.init()\n"
                         "t.log({'ld': numpy.longdouble(0.5), 'l': [numpy.longdouble(1.5)]})\n"
                         "t.init({'c': numpy.longdouble(2)})\n"
                         "t.close()\n", timeout=60)
        self.assertEqual(out, "")
        path = os.path.join(self.dir, "ld.db")
        self.assertEqual(self.query(path, "SELECT key, value FROM metrics ORDER BY key"),
                         [("l", "[1.5]"), ("ld", 0.5)])
        self.assertEqual(self.query(path, "SELECT key, value FROM params"), [("c", 2.0)])

    def test_tensor_likes(self):
        # .item() / .tolist() of a library never imported: numbers bit-exact,
        # NaN/Inf kept, arrays as arrays, strings as text.
        tiny, third = 5e-324, 1 / 3
        _, got = self.log_one({
            "loss": Scalar(third), "tiny": Scalar(tiny), "nan": Scalar(math.nan),
            "inf": Scalar(math.inf), "count": Scalar(-(1 << 63)), "flag": Scalar(True),
            "vec": Array([0.5, 1.5]), "words": Array(["a", "b"]), "s": Array("text"),
            "nested": {"t": Scalar(2.5), "v": Array([1, [2, Scalar(3)]])},
            "stubborn": Stubborn(),
        })
        self.assertEqual(bits(got["loss"][0]), bits(third))
        self.assertEqual(bits(got["tiny"][0]), bits(tiny))
        self.assertEqual(got["nan"], (None, "null"))  # sqlite's view of NaN
        self.assertEqual(got["inf"], (math.inf, "real"))
        self.assertEqual(got["count"], (-(1 << 63), "integer"))
        self.assertEqual(got["flag"], (1, "integer"))
        self.assertEqual(got["vec"], ("[0.5,1.5]", "text"))
        self.assertEqual(got["words"], ('["a","b"]', "text"))
        self.assertEqual(got["s"], ("text", "text"))
        self.assertEqual(got["nested/t"], (2.5, "real"))
        self.assertEqual(got["nested/v"], ("[1,[2,3]]", "text"))
        self.assertEqual(got["stubborn"], (0.25, "real"))

    def test_index_and_float_objects(self):
        class Idx:
            def __index__(self):
                return 7

        class Flt:
            def __float__(self):
                return 2.5

        _, got = self.log_one({"i": Idx(), "f": Flt()})
        self.assertEqual(got["i"], (7, "integer"))
        self.assertEqual(got["f"], (2.5, "real"))


class TestCoerce(unittest.TestCase):
    def test_results_are_plain(self):
        self.assertEqual(coerce("k", Scalar(1.5)), 1.5)
        self.assertEqual(coerce("k", Array([1, 2])), [1, 2])
        self.assertEqual(coerce("k", Stubborn()), 0.25)
        self.assertEqual(plain("k", {"a": [Scalar(1), (2, Array([3]))]}), {"a": [1, [2, [3]]]})

    def test_unsupported(self):
        class Broken:
            def item(self):
                raise ValueError("no")

        with self.assertRaisesRegex(TypeError, r"'k'.*\.item\(\)"):
            coerce("k", Broken())
        with self.assertRaisesRegex(TypeError, "'k'.*unsupported type object"):
            coerce("k", object())
        with self.assertRaisesRegex(TypeError, "'k'"):
            coerce("k", Scalar(1j))


if __name__ == "__main__":
    unittest.main()

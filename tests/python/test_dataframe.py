"""dataframe: frame() gives the same DataFrame from every store of the same
runs, one row per step; it needs pandas only when called."""
import math
import os
import unittest

from helpers import TempDir, python

import tropt_tracker
from tropt_tracker import Tracker

try:
    import pandas
    from pandas.testing import assert_frame_equal
except ImportError:  # pragma: no cover
    pandas = None


@unittest.skipIf(pandas is None, "pandas not installed (Debian: python3-pandas)")
class TestFrame(TempDir):
    def specs(self):
        return {"sqlite": "sqlite:path=" + os.path.join(self.dir, "runs.db"),
                "csv": "csv:dir=" + os.path.join(self.dir, "csv"),
                "jsonl": "jsonl:path=" + os.path.join(self.dir, "runs.jsonl")}

    def log_runs(self):
        """Two runs written once to all three stores (one tracker, three
        backends); returns the run ids."""
        ids = []
        with Tracker(";".join(self.specs().values()), experiment_name="fr") as t:
            t.init({"lr": 0.5})
            ids.append(t.run_id)
            for i in range(4):
                t.log({"loss": 1 / (i + 3), "i": i, "ok": i % 2 == 0, "s": f"x{i}",
                       "arr": [i, 0.25], "nested": {"v": -0.5 * i}})
            t.log({"val/loss": 0.125}, step=3)  # merged into step 3
            t.log({"big": 2**63 - 1, "neg": -2**63, "nan": math.nan, "inf": -math.inf,
                   "step": 7, "time": 0.75})  # two keys named like columns
            t.log({"loss": 0.1}, step=10)
            t.finish({"best": 0.1})
            t.init()
            ids.append(t.run_id)
            t.log({"loss": 2.5, "other": "o"})
            t.log({"none": None, "loss": 3.5})
        return ids

    def test_every_store_gives_the_same_frame(self):
        ids = self.log_runs()
        frames = {name: tropt_tracker.frame(spec) for name, spec in self.specs().items()}
        ref = frames["sqlite"]
        for name in ("csv", "jsonl"):
            with self.subTest(name):
                assert_frame_equal(frames[name], ref)
        self.assertEqual(list(ref.columns),
                         ["run_id", "run_name", "step", "time", "arr", "big", "i", "inf", "loss",
                          "nan", "neg", "nested/v", "ok", "other", "s", "_step", "_time",
                          "val/loss"])
        self.assertNotIn("none", ref.columns)  # only ever None: csv cannot hold it
        self.assertEqual(ref["run_id"].tolist(), [ids[0]] * 6 + [ids[1]] * 2)
        names = {r["run_id"]: r["name"] for r in tropt_tracker.runs(self.specs()["jsonl"])}
        self.assertTrue(all(names.values()))
        self.assertEqual(ref["run_name"].tolist(), [names[ids[0]]] * 6 + [names[ids[1]]] * 2)
        self.assertEqual(ref["step"].tolist(), [0, 1, 2, 3, 4, 10, 0, 1])
        self.assertEqual(str(ref["i"].dtype), "Int64")
        self.assertEqual(ref["i"].tolist()[:4], [0, 1, 2, 3])
        self.assertEqual(str(ref["big"].dtype), "Int64")
        self.assertEqual(ref["big"][4], 2**63 - 1)
        self.assertEqual(ref["neg"][4], -2**63)
        self.assertEqual(str(ref["loss"].dtype), "float64")
        self.assertEqual([v for v in ref["loss"].tolist() if v == v],
                         [1 / 3, 1 / 4, 1 / 5, 1 / 6, 0.1, 2.5, 3.5])
        self.assertTrue(math.isnan(ref["nan"][4]))
        self.assertEqual(ref["inf"][4], -math.inf)
        self.assertEqual(str(ref["ok"].dtype), "boolean")
        self.assertEqual(ref["s"].tolist()[:4], ["x0", "x1", "x2", "x3"])
        self.assertEqual(ref["arr"][2], [2, 0.25])
        self.assertEqual(ref["val/loss"][3], 0.125)  # merged into step 3
        self.assertEqual(ref["loss"][3], 1 / 6)
        self.assertEqual((ref["_step"][4], ref["_time"][4]), (7, 0.75))
        self.assertTrue(all(ref["time"] > 1.6e9))

    def test_one_run_and_some_keys(self):
        ids = self.log_runs()
        for name, spec in self.specs().items():
            with self.subTest(name):
                df = tropt_tracker.frame(spec, ids[0][:24], keys=["val/loss", "loss"])
                self.assertEqual(list(df.columns),
                                 ["run_id", "run_name", "step", "time", "val/loss", "loss"])
                self.assertEqual(df["step"].tolist(), [0, 1, 2, 3, 10])
                self.assertEqual(df["val/loss"].isna().tolist(), [True, True, True, False, True])
                one = tropt_tracker.frame(spec, ids[1], keys="other")
                self.assertEqual((one["step"].tolist(), one["other"].tolist()), ([0], ["o"]))
                # by its name, as `tropt show NAME` finds it
                name = [r["name"] for r in tropt_tracker.runs(spec) if r["run_id"] == ids[1]][0]
                by_name = tropt_tracker.frame(spec, name, keys="other")
                assert_frame_equal(by_name, one)
                with self.assertRaises(tropt_tracker.TrackerError):
                    tropt_tracker.frame(spec, "no-such-run-name")

    def test_empty_store(self):
        spec = "jsonl:path=" + os.path.join(self.dir, "empty.jsonl")
        with Tracker(spec):
            pass
        df = tropt_tracker.frame(spec)
        self.assertEqual(list(df.columns), ["run_id", "run_name", "step", "time"])
        self.assertEqual(len(df), 0)


class TestWithoutPandas(TempDir):
    def test_clear_import_error(self):
        p = python("import sys\n"
                   "sys.modules['pandas'] = None  # as if not installed\n"
                   "import tropt_tracker\n"
                   "try:\n"
                   "    tropt_tracker.frame('jsonl:path=x.jsonl')\n"
                   "except ImportError as e:\n"
                   "    print(e)\n", cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("tropt_tracker.frame() needs pandas", p.stdout)
        self.assertIn("python3-pandas", p.stdout)


if __name__ == "__main__":
    unittest.main()

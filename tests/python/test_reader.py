"""reader: runs() and read_run() through the reader API of any backend."""
import os
import struct
import unittest

from helpers import TempDir

import tropt_tracker
from tropt_tracker import Tracker, TrackerError


class TestReadBack(TempDir):
    EDGE = {"i_min": -2**63, "i_max": 2**63 - 1, "tiny": 5e-324, "neg0": -0.0,
            "pinf": float("inf"), "ninf": float("-inf"), "nan": float("nan"), "empty": "",
            "uni": "ünïcødé ✓", "list": [1.0, 2, "x", None], "flag": True, "none": None,
            "a,b": 1, 'q"k': 2, "new\nline": 3, "nested": {"deep": 0.1}}

    def log_one(self, spec):
        with Tracker(spec, experiment_name="rb", experiment_config={"seed": 3}) as t:
            t.init({"lr": 0.5})
            run_id = t.run_id
            t.log(self.EDGE)
            t.log({"loss": 0.25})
            t.finish({"best": 0.25})
            return run_id

    def test_jsonl_gives_back_exactly_what_was_logged(self):
        spec = "jsonl:path=" + os.path.join(self.dir, "r.jsonl")
        run_id = self.log_one(spec)
        listed = tropt_tracker.runs(spec)
        self.assertEqual([r["run_id"] for r in listed], [run_id])
        self.assertEqual((listed[0]["experiment"], listed[0]["status"], listed[0]["n_steps"]),
                         ("rb", "finished", 2))
        # ABI 1.2's members, which the reader API always fills
        self.assertEqual((listed[0]["attempts"], listed[0]["last_step"], listed[0]["tags"],
                          listed[0]["checkpoint_step"], listed[0]["resume_key"]),
                         (1, 1, [], None, None))
        self.assertRegex(listed[0]["name"], r"^[a-z]+-[a-z]+-\d+$")
        got = tropt_tracker.read_run(spec, run_id[:8])
        self.assertEqual(got["config"], {"seed": 3, "lr": 0.5})
        self.assertEqual(got["summary"], {"best": 0.25})
        self.assertEqual(got["status"], "finished")
        self.assertEqual([s["step"] for s in got["steps"]], [0, 1])
        data = got["steps"][0]["data"]
        want = dict(self.EDGE)
        want["nested/deep"] = want.pop("nested")["deep"]
        self.assertEqual(set(data), set(want))
        for k, v in want.items():
            if isinstance(v, float):
                self.assertEqual(struct.pack("<d", data[k]), struct.pack("<d", v), k)
            else:
                self.assertEqual((type(data[k]), data[k]), (type(v), v), k)

    def test_sqlite_lists_and_reads_through_its_views(self):
        spec = "sqlite:path=" + self.db()
        run_id = self.log_one(spec)
        self.assertEqual([r["run_id"] for r in tropt_tracker.runs(spec)], [run_id])
        got = tropt_tracker.read_run(spec, run_id)
        self.assertEqual(got["steps"][1]["data"], {"loss": 0.25})
        self.assertEqual(got["steps"][0]["data"]["i_min"], -2**63)
        self.assertEqual(struct.pack("<d", got["steps"][0]["data"]["tiny"]),
                         struct.pack("<d", 5e-324))

    def test_errors(self):
        with self.assertRaises(TrackerError) as cm:
            tropt_tracker.runs("sqlite:path=" + os.path.join(self.dir, "missing.db"))
        self.assertEqual(cm.exception.name, "TROPT_EBACKEND")
        self.assertIn("missing.db", cm.exception.message)
        spec = "jsonl:path=" + os.path.join(self.dir, "r.jsonl")
        self.log_one(spec)
        with self.assertRaises(TrackerError) as cm:
            tropt_tracker.read_run(spec, "ffffffff-no-such-run")
        self.assertEqual(cm.exception.name, "TROPT_ENOTFOUND")
        with self.assertRaises(TypeError):
            tropt_tracker.runs(None)
        with self.assertRaises(TypeError):
            tropt_tracker.read_run(spec, 7)


if __name__ == "__main__":
    unittest.main()

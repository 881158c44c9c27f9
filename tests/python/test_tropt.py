"""tropt: TroptTracker under tropt's optimizer wrapper, replayed by the
stand-in tropt package (standin/: tropt's BaseTracker as published, and a
wrapper calling it as tropt's does), read back by SQL."""
import json
import math
import os
import unittest

from helpers import STANDIN, REF_LOGGER, Listening, TempDir, bits, python

from tropt.optimizer.base import ReplayOptimizer, Scalar, Vector
from tropt.tracker.base import BaseTracker

import tropt_tracker
from tropt_tracker.tropt import TroptTracker

AUTO_FINISH = ("init() called on already-active tracker (previous run not finished). "
               "Auto-finishing the previous run.")
TEMPLATES = ["{prompt} {trigger}", "Q: {prompt} {trigger}\nA:"]
TARGETS = {"benign": {"texts": ["Sure", "Here"], "weights": [0.5, 0.5]}, "n": 2}


def tropt_steps(n, offset=0.0):
    """Steps as tropt's optimizers log them: tensors, a string, loss/<k>."""
    out = []
    best = math.inf
    for i in range(n):
        loss = 1 / (i + 3) + offset
        best = min(best, loss)
        out.append({"loss": Scalar(loss), "best_loss": Scalar(best),
                    "trigger_str": f"! ! x{i} !", "loss/0": loss / 3, "loss/1": Scalar(2 * loss),
                    "model/grad_norm": Scalar(float(i) * 1e-300), "n_candidates": Scalar(64),
                    "token_ids": Vector([101, 7, i])})
    return out


class TestTroptTracker(TempDir):
    def optimizer(self, tracker, steps, summary, fail=None):
        return ReplayOptimizer(tracker, steps, summary, fail=fail, n_steps=len(steps),
                               topk=256, lr=0.1)

    def optimize(self, opt):
        return opt.optimize(TEMPLATES, "! ! ! !", TARGETS, opt)

    def test_tropt_runs_stored_with_their_statuses(self):
        path = self.db()
        tracker = TroptTracker(f"sqlite:path={path}", experiment_name="gcg",
                               experiment_config={"seed": 7})
        self.assertIsInstance(tracker, BaseTracker)
        steps = tropt_steps(5)
        summary = {"best_loss": Scalar(1 / 7), "best_trigger_str": "! ! x4 !",
                   "full_prompt": ["Q: hi ! ! x4 !", "A:"]}
        self.optimize(self.optimizer(tracker, steps, summary))
        with self.assertRaises(RuntimeError):  # the optimizer raises: no finish
            self.optimize(self.optimizer(tracker, tropt_steps(2, 1.0), summary,
                                         fail=RuntimeError("CUDA out of memory")))
        self.assertTrue(tracker._active)
        with Listening(REF_LOGGER) as warnings:
            self.optimize(self.optimizer(tracker, tropt_steps(3), {
                "best_loss": 0.2, "best_trigger_str": "x", "full_prompt": "one string"}))
        self.assertEqual([m for _, m in warnings], [AUTO_FINISH])
        tracker.close()

        runs = self.query(path, "SELECT run_id, experiment, status FROM runs ORDER BY run_id")
        self.assertEqual([r[1:] for r in runs],
                         [("gcg", "finished"), ("gcg", "aborted"), ("gcg", "finished")])
        first = runs[0][0]
        got = {}
        for step, key, value, ty in self.query(
                path, "SELECT step, key, value, typeof(value) FROM metrics WHERE run_id = ?",
                first):
            got[(step, key)] = (value, ty)
        for i, want in enumerate(steps):
            for key in ("loss", "best_loss", "loss/1", "model/grad_norm"):
                value, ty = got[(i, key)]
                self.assertEqual((ty, bits(value)), ("real", bits(want[key].item())), key)
            self.assertEqual(bits(got[(i, "loss/0")][0]), bits(want["loss/0"]))
            self.assertEqual(got[(i, "trigger_str")], (f"! ! x{i} !", "text"))
            self.assertEqual(got[(i, "n_candidates")], (64, "integer"))
            self.assertEqual(got[(i, "token_ids")], (f"[101,7,{i}]", "text"))
        self.assertEqual(len(got), 5 * 8)

        params = dict(self.query(path, "SELECT key, value FROM params WHERE run_id = ?", first))
        self.assertEqual(params["seed"], 7)
        self.assertEqual(params["optimizer"], "ReplayOptimizer")
        self.assertEqual(params["model_name"], "stand-in/model")
        self.assertTrue(params["loss"].startswith("<tropt.optimizer.base.ReplayOptimizer"))
        self.assertEqual(json.loads(params["templates"]), TEMPLATES)
        self.assertEqual(params["initial_trigger"], "! ! ! !")
        self.assertEqual(json.loads(params["targets/benign/texts"]), ["Sure", "Here"])
        self.assertEqual(params["targets/n"], 2)
        self.assertEqual((params["hparam/n_steps"], params["hparam/topk"], params["hparam/lr"]),
                         (5, 256, 0.1))

        summaries = {}
        for run, key, value in self.query(path, "SELECT run_id, key, value FROM summary"):
            summaries.setdefault(run, {})[key] = value
        self.assertEqual(bits(summaries[first]["best_loss"]), bits(1 / 7))
        self.assertEqual(summaries[first]["best_trigger_str"], "! ! x4 !")
        self.assertEqual(json.loads(summaries[first]["full_prompt"]), ["Q: hi ! ! x4 !", "A:"])
        self.assertNotIn(runs[1][0], summaries)  # aborted: no summary
        self.assertEqual(summaries[runs[2][0]]["full_prompt"], "one string")

    def test_any_backend_and_reference_state_machine(self):
        spec = "jsonl:path=" + os.path.join(self.dir, "t.jsonl")
        tracker = TroptTracker(spec)
        self.assertEqual(tracker.experiment_name, "tropt_experiment")
        with self.assertRaises(AssertionError) as cm:
            tracker.log({"x": 1})
        self.assertEqual(str(cm.exception), "log() called on inactive tracker (missing init()?)")
        with Listening(REF_LOGGER) as warnings:
            tracker.finish()
        self.assertEqual([m for _, m in warnings], ["finish() called on inactive tracker — ignoring."])
        tracker.init({"a": 1})
        run = tracker.run_id
        tracker.log({"loss": Scalar(float("nan")), "x": Scalar(float("-inf"))})
        tracker.finish({"best": Scalar(0.5)})
        tracker.close()
        got = tropt_tracker.read_run(spec, run)
        self.assertEqual(got["config"], {"a": 1})
        data = got["steps"][0]["data"]
        self.assertTrue(math.isnan(data["loss"]))
        self.assertEqual(data["x"], -math.inf)
        self.assertEqual(got["summary"], {"best": 0.5})
        self.assertEqual(got["status"], "finished")

    def test_tracker_kwargs(self):
        with self.assertRaises(TypeError):
            TroptTracker("null", no_such_option=1)
        tracker = TroptTracker("null", run_name="gcg-a", resume="never")
        self.optimize(self.optimizer(tracker, tropt_steps(1), {"best_loss": 0.1}))
        self.assertIsNone(tracker.tracker.run_name)  # finished
        tracker.init()
        self.assertEqual(tracker.tracker.run_name, "gcg-a-2")
        tracker.close()

    def test_run_left_active_is_aborted_at_exit(self):
        code = ("import sys\n"
                f"sys.path.insert(0, {STANDIN!r})\n"
                "from tropt.optimizer.base import ReplayOptimizer, Scalar\n"
                "from tropt_tracker.tropt import TroptTracker\n"
                "t = TroptTracker('sqlite:path=exit.db')\n"
                "opt = ReplayOptimizer(t, [{'loss': Scalar(0.5)}], {}, fail=KeyError('x'))\n"
                "try:\n"
                "    opt.optimize([], '', {}, None)\n"
                "except KeyError:\n"
                "    pass\n")
        self.child(code)
        path = os.path.join(self.dir, "exit.db")
        self.assertEqual(self.query(path, "SELECT status FROM runs"), [("aborted",)])
        self.assertEqual(self.query(path, "SELECT key, value FROM metrics"), [("loss", 0.5)])


class TestWithoutTropt(TempDir):
    def test_import_needs_tropt_only_for_the_adapter(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                            if p and os.path.abspath(p) != STANDIN)
        p = python("import sys, tropt_tracker\n"
                   "assert 'tropt' not in sys.modules\n"
                   "try:\n"
                   "    import tropt_tracker.tropt\n"
                   "except ImportError as e:\n"
                   "    print(type(e).__name__, e)\n", env=env, cwd=self.dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("tropt_tracker.tropt needs the tropt package", p.stdout)
        self.assertTrue(p.stdout.startswith("ImportError"), p.stdout)


if __name__ == "__main__":
    unittest.main()

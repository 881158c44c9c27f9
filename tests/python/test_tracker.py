"""Tests of the tropt_tracker Python binding: what a Python user relies on,
read back from the sqlite file with Python's own sqlite3 module."""
from __future__ import annotations

import logging
import math
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
from abc import ABC, abstractmethod
from typing import Optional

import tropt_tracker
from tropt_tracker import Tracker, TrackerError

try:
    import numpy
except ImportError:  # pragma: no cover
    numpy = None


# ---- a copy of the reference BaseTracker (tropt.tracker.base) -------------------
# Written from ../shared/reference/tropt_tracker_base.txt; only the logger name
# differs so that the test can listen to it.

ref_logger = logging.getLogger("tropt_reference_base")

DEFAULT_EXPERIMENT_NAME = "tropt_experiment"


class BaseTracker(ABC):
    def __init__(
        self,
        experiment_name: str = DEFAULT_EXPERIMENT_NAME,
        experiment_config: Optional[dict] = None,
    ):
        self.experiment_name = experiment_name
        self.experiment_config = experiment_config
        self._active = False

    def init(self, config: Optional[dict] = None):
        if self._active:
            ref_logger.warning(
                "init() called on already-active tracker (previous run not finished). "
                "Auto-finishing the previous run."
            )
            self.finish()
        self._active = True
        merged = {**(self.experiment_config or {}), **(config or {})} or None
        self._init(merged)

    def log(self, data: dict):
        assert self._active, "log() called on inactive tracker (missing init()?)"
        self._log(data)

    def finish(self, summary: Optional[dict] = None):
        if not self._active:
            ref_logger.warning("finish() called on inactive tracker — ignoring.")
            return
        self._finish(summary)
        self._active = False

    @abstractmethod
    def _init(self, config: Optional[dict] = None): ...

    @abstractmethod
    def _log(self, data: dict): ...

    @abstractmethod
    def _finish(self, summary: Optional[dict] = None): ...


class RecordingTracker(BaseTracker):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.configs = []
        self.steps = 0

    def _init(self, config=None):
        self.configs.append(config)

    def _log(self, data):
        self.steps += 1

    def _finish(self, summary=None):
        pass


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append((record.levelno, record.getMessage()))


class Listening:
    """Collects what a logger emits while the block runs (not propagated)."""

    def __init__(self, name):
        self.log = logging.getLogger(name)
        self.cap = Capture()

    def __enter__(self):
        self.log.addHandler(self.cap)
        self.prop = self.log.propagate
        self.log.propagate = False
        return self.cap.records

    def __exit__(self, *exc):
        self.log.removeHandler(self.cap)
        self.log.propagate = self.prop


def run_sequence(tracker, ops, logger_name):
    """Apply ops [(method, arg)] and return what a user sees: each call's
    exception (type, message) or None, and the log records."""
    outcomes = []
    with Listening(logger_name) as records:
        for method, arg in ops:
            try:
                getattr(tracker, method)(arg)
                outcomes.append(None)
            except Exception as e:  # noqa: BLE001 - compared, not swallowed
                outcomes.append((type(e).__name__, str(e)))
    return outcomes, list(records)


class TempDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tropt-py-")
        self.dir = self._tmp.name
        self.n = 0

    def tearDown(self):
        self._tmp.cleanup()

    def db(self):
        self.n += 1
        return os.path.join(self.dir, f"t{self.n}.db")

    def query(self, path, sql, *args):
        con = sqlite3.connect(path)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def child(self, code, timeout=120):
        """Run code in a fresh interpreter in the test's folder; fails the
        test if it is still running after `timeout` s (a deadline for a hang,
        not a wait) or exits non-zero."""
        try:
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               cwd=self.dir, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"the child did not exit within {timeout} s:\n{code}")
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout


# ---- parity with the reference ------------------------------------------------

SEQUENCES = {
    "init twice": [("init", {"a": 1}), ("init", {"b": 2}), ("log", {"x": 1}), ("finish", None)],
    "log while inactive": [("log", {"x": 1}), ("init", None), ("log", {"x": 1}),
                           ("finish", None), ("log", {"x": 2})],
    "finish while inactive": [("finish", None), ("init", None), ("finish", {"s": 1}),
                              ("finish", None)],
    "reuse after finish": [("init", {"r": 1}), ("log", {"x": 1}), ("finish", None),
                           ("init", {"r": 2}), ("log", {"x": 2}), ("finish", None)],
}


class TestParity(TempDir):
    def compare(self, ops, experiment_config):
        ref = RecordingTracker("exp", experiment_config)
        path = self.db()
        t = Tracker(f"sqlite:path={path}", experiment_name="exp",
                    experiment_config=experiment_config)
        try:
            ref_out = run_sequence(ref, ops, "tropt_reference_base")
            our_out = run_sequence(t, ops, "tropt_tracker")
            self.assertEqual(t.active, ref._active)
            self.assertEqual(t.experiment_name, ref.experiment_name)
            self.assertEqual(t.experiment_config, ref.experiment_config)
        finally:
            t.close()
        self.assertEqual(our_out, ref_out)
        import json
        got = [None if c is None else json.loads(c)
               for (c,) in self.query(path, "SELECT config FROM runs ORDER BY run_id")]
        self.assertEqual(got, ref.configs)
        steps = self.query(path, "SELECT count(DISTINCT run_id || ':' || step) FROM metrics")[0][0]
        self.assertEqual(steps, ref.steps)

    def test_sequences(self):
        for name, ops in SEQUENCES.items():
            with self.subTest(name):
                self.compare(ops, {"seed": 1})

    def test_config_merges(self):
        choices = [None, {}, {"a": 1, "b": 2}]
        inits = [None, {}, {"b": 3, "c": 4}]
        for ec in choices:
            for c in inits:
                with self.subTest(experiment_config=ec, config=c):
                    self.compare([("init", c), ("log", {"x": 1}), ("finish", None)], ec)

    def test_reassigned_experiment_config(self):
        def ops(tr):
            tr.experiment_config = {"z": 9}
            return [("init", {"a": 2}), ("finish", None)]
        ref = RecordingTracker("exp", {"seed": 1})
        path = self.db()
        with Tracker(f"sqlite:path={path}", experiment_config={"seed": 1}) as t:
            run_sequence(ref, ops(ref), "tropt_reference_base")
            run_sequence(t, ops(t), "tropt_tracker")
        import json
        (c,), = self.query(path, "SELECT config FROM runs")
        self.assertEqual(json.loads(c), ref.configs[0])
        self.assertEqual(ref.configs[0], {"z": 9, "a": 2})

    def test_warnings_are_the_reference_text(self):
        _, records = run_sequence(RecordingTracker(), SEQUENCES["init twice"] +
                                  [("finish", None)], "tropt_reference_base")
        self.assertEqual([r[1] for r in records], [
            "init() called on already-active tracker (previous run not finished). "
            "Auto-finishing the previous run.",
            "finish() called on inactive tracker — ignoring."])
        self.assertTrue(all(r[0] == logging.WARNING for r in records))


# ---- values -------------------------------------------------------------------

def bits(x):
    return struct.pack("<d", x)


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
        import json
        self.assertEqual(json.loads(got["list"][0]), [1, "x", None, True, 0.5, [2], "\\u0000"])
        self.assertEqual(json.loads(got["tuple"][0]), [1, 2])
        self.assertEqual(got["emptylist"], ("[]", "text"))
        self.assertEqual(got["emptydict"], ("{}", "text"))
        self.assertEqual(got["nested/deep/er"], (2.5, "real"))
        for i, k in enumerate(keys_odd):
            self.assertEqual(got[k], (i, "integer"), repr(k))
        self.assertEqual(len(got), len(data))

    def test_config_and_summary_read_back(self):
        cfg = {"lr": 0.1, "n": (1 << 63) - 1, "name": "é", "opt": {"beta": [0.9, 0.999]}}
        path, _ = self.log_one({"x": 1}, summary={"best": 5e-324, "ok": True}, config=cfg)
        params = dict(self.query(path, "SELECT key, value FROM params"))
        self.assertEqual(params["lr"], 0.1)
        self.assertEqual(params["n"], (1 << 63) - 1)
        self.assertEqual(params["name"], "é")
        self.assertEqual(params["opt/beta"], "[0.9,0.999]")
        summary = dict(self.query(path, "SELECT key, value FROM summary"))
        self.assertEqual(bits(summary["best"]), bits(5e-324))
        self.assertEqual(summary["ok"], 1)

    @unittest.skipIf(numpy is None, "numpy not installed")
    def test_numpy_values(self):
        np = numpy
        _, got = self.log_one({
            "f64": np.float64(0.1), "f32": np.float32(0.5), "i64": np.int64(-(1 << 63)),
            "u8": np.uint8(255), "b": np.bool_(True), "arr": np.array([1, 2, 3]),
            "arr2": np.array([[0.5, 1.5]]), "s": np.str_("z"), "nan": np.float64("nan"),
        })
        self.assertEqual(got["f64"], (0.1, "real"))
        self.assertEqual(got["f32"], (0.5, "real"))
        self.assertEqual(got["i64"], (-(1 << 63), "integer"))
        self.assertEqual(got["u8"], (255, "integer"))
        self.assertEqual(got["b"], (1, "integer"))
        self.assertEqual(got["arr"], ("[1,2,3]", "text"))
        self.assertEqual(got["arr2"], ("[[0.5,1.5]]", "text"))
        self.assertEqual(got["s"], ("z", "text"))
        self.assertEqual(got["nan"], (None, "null"))
        with Tracker("null") as t:
            t.init()
            with self.assertRaisesRegex(ValueError, "'big'"):
                t.log({"big": np.uint64((1 << 64) - 1)})

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

    def test_repeated_shapes_keep_types(self):
        # Steps with the same keys take the prepared fast path; a change of a
        # value's type must still arrive as that type.
        path = self.db()
        seq = [{"x": 1, "y": 0.5}, {"x": 2, "y": 1.5}, {"x": 3.0, "y": 2.5},
               {"x": True, "y": -0.0}, {"x": False, "y": 1e308}, {"x": 4, "y": 5e-324},
               {"x": (1 << 63) - 1, "y": 0.25}, {"x": None, "y": 0.125}, {"x": "s", "y": 1.0}]
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
                    ty = {float: "real", int: "integer", bool: "integer", str: "text",
                          type(None): "null"}[type(v)]
                    want.append((step, k, int(v) if type(v) is bool else v, ty))
        want += [(2 * len(seq), "x", 5, "integer"), (2 * len(seq), "y", 0.5, "real")]
        self.assertEqual(rows, want)
        self.assertEqual(rows[13][:2], (6, "y"))
        self.assertEqual(bits(rows[13][2]), bits(-0.0))
        self.assertEqual(bits(rows[15][2]), bits(-0.0))

    def test_many_fields_grow_the_buffer(self):
        data = {f"k{i}": {"a": i, "b": {"c": float(i)}} for i in range(300)}
        _, got = self.log_one(data)
        self.assertEqual(len(got), 600)
        self.assertEqual(got["k299/b/c"], (299.0, "real"))


# ---- errors ---------------------------------------------------------------------

class TestErrors(TempDir):
    def assertCode(self, cm, name):
        e = cm.exception
        self.assertEqual(e.name, name)
        self.assertEqual(e.code, {"TROPT_EINVAL": -1, "TROPT_ENOTFOUND": -2, "TROPT_EPLUGIN": -3,
                                  "TROPT_ESTATE": -4, "TROPT_EBACKEND": -5}[name])
        self.assertTrue(e.message)
        self.assertIn(name, str(e))
        self.assertIn(e.message, str(e))

    def test_open_errors(self):
        with self.assertRaises(TrackerError) as cm:
            Tracker("no_such_backend")
        self.assertCode(cm, "TROPT_ENOTFOUND")
        self.assertIn("no_such_backend", cm.exception.message)
        with self.assertRaises(TrackerError) as cm:
            Tracker("sqlite:no_such_option=1")
        self.assertCode(cm, "TROPT_EINVAL")
        self.assertIn("no_such_option", cm.exception.message)
        with self.assertRaises(TrackerError) as cm:
            Tracker("sqlite:path=" + os.path.join(self.dir, "missing", "dir", "x.db"))
        self.assertCode(cm, "TROPT_EBACKEND")

    def test_unusable_plugin(self):
        with open(os.path.join(self.dir, "tropt-broken.so"), "wb") as f:
            f.write(b"not an ELF file")
        old = os.environ.get("TROPT_PLUGIN_PATH", "")
        os.environ["TROPT_PLUGIN_PATH"] = self.dir + (":" + old if old else "")
        try:
            with self.assertRaises(TrackerError) as cm:
                Tracker("broken")
            self.assertCode(cm, "TROPT_EPLUGIN")
        finally:
            os.environ["TROPT_PLUGIN_PATH"] = old

    def test_log_errors(self):
        with Tracker("null") as t:
            with self.assertRaises(AssertionError) as cm:
                t.log({"x": 1})
            self.assertEqual(str(cm.exception), "log() called on inactive tracker (missing init()?)")
            t.init()
            with self.assertRaises(TrackerError) as cm:
                t.log({"a/b": 1, "a": {"b": 2}})
            self.assertCode(cm, "TROPT_EINVAL")
            with self.assertRaisesRegex(TypeError, "'obj'"):
                t.log({"obj": object()})
            with self.assertRaisesRegex(TypeError, "'s/x'"):
                t.log({"s": {"x": {1, 2}}})
            with self.assertRaisesRegex(TypeError, "dict"):
                t.log([("x", 1)])
            with self.assertRaisesRegex(TypeError, "not a str"):
                t.log({1: 2})
            with self.assertRaisesRegex(ValueError, "'big'"):
                t.log({"big": 1 << 63})
            with self.assertRaisesRegex(ValueError, "'small'"):
                t.log({"small": -(1 << 63) - 1})
            with self.assertRaisesRegex(ValueError, "'n/deep'"):
                t.log({"n": {"deep": 1 << 64}})
            with self.assertRaisesRegex(ValueError, "'l'"):
                t.log({"l": [1, 1 << 70]})
            with self.assertRaisesRegex(ValueError, "'l'"):
                t.log({"l": [math.nan]})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"z": "a\x00b"})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"zl": ["a\x00b"]})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"k\x00": 1})
            with self.assertRaisesRegex(TypeError, "config"):
                t.init(5)
            with self.assertRaisesRegex(ValueError, "'x'"):
                t.init({"x": 1 << 64})
            with self.assertRaisesRegex(TypeError, "summary"):
                t.finish("done")
            self.assertTrue(t.active)  # failed calls changed nothing
            t.log({"ok": 1})
            t.finish()
        with self.assertRaises(TypeError):
            Tracker(5)
        with self.assertRaisesRegex(TypeError, "'o'"):
            Tracker("null", experiment_config={"o": object()})

    def test_use_after_close(self):
        t = Tracker("null")
        t.init()
        t.close()
        t.close()  # idempotent
        self.assertFalse(t.active)
        self.assertIsNone(t.run_id)
        for call in (lambda: t.log({"x": 1}), t.init, t.finish, t.flush):
            with self.assertRaises(TrackerError) as cm:
                call()
            self.assertCode(cm, "TROPT_ESTATE")

    def test_close_aborts_and_with_finishes(self):
        path = self.db()
        t = Tracker(f"sqlite:path={path}")
        t.init()
        run = t.run_id
        self.assertEqual(len(run), 36)
        t.log({"x": 1})
        t.close()
        with Tracker(f"sqlite:path={path}") as t2:
            t2.init()
            run2 = t2.run_id
        with self.assertRaises(RuntimeError):
            with Tracker(f"sqlite:path={path}") as t3:
                t3.init()
                run3 = t3.run_id
                raise RuntimeError("boom")
        status = dict(self.query(path, "SELECT run_id, status FROM runs"))
        self.assertEqual(status, {run: "aborted", run2: "finished", run3: "aborted"})

    def test_flush_makes_steps_visible(self):
        path = self.db()
        with Tracker(f"sqlite:path={path},commit_every=1000") as t:
            t.init()
            for i in range(10):
                t.log({"i": i})
            t.flush()
            self.assertEqual(self.query(path, "SELECT count(*) FROM metrics")[0][0], 10)

    def test_c_diagnostics_go_to_logging_not_stderr(self):
        code = ("import logging, tropt_tracker\n"
                "got = []\n"
                "class H(logging.Handler):\n"
                "    def emit(self, r): got.append((r.name, r.levelname, r.getMessage()))\n"
                "logging.getLogger('tropt_tracker').addHandler(H())\n"
                "t = tropt_tracker.Tracker('null')\n"
                "t.finish()\n"
                "try:\n"
                "    tropt_tracker.Tracker('sqlite:path=/nonexistent/dir/x.db')\n"
                "except tropt_tracker.TrackerError:\n"
                "    pass\n"
                "t.close()\n"
                "print(got)\n")
        env = dict(os.environ, TROPT_LOG_LEVEL="debug")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        got = eval(p.stdout)  # noqa: S307 - our own repr
        self.assertIn(("tropt_tracker", "WARNING",
                       "finish() called on inactive tracker — ignoring."), got)
        self.assertTrue(all(name == "tropt_tracker" for name, _, _ in got))

    def test_installed_path_is_used_without_env(self):
        # What `meson install` leaves: the package with a generated _config.py
        # naming the library; no TROPT_LIBRARY needed.
        import shutil
        pkg = os.path.join(self.dir, "site", "tropt_tracker")
        shutil.copytree(os.path.dirname(tropt_tracker.__file__), pkg,
                        ignore=shutil.ignore_patterns("*.in", "__pycache__"))
        with open(os.path.join(pkg, "_config.py"), "w") as f:
            f.write(f"LIBTROPT = {tropt_tracker.library_path!r}\n")
        env = {k: v for k, v in os.environ.items() if k not in ("TROPT_LIBRARY", "LD_LIBRARY_PATH")}
        env["PYTHONPATH"] = os.path.dirname(pkg)
        code = ("import tropt_tracker as t; print(t.library_path); "
                "x = t.Tracker('null'); x.init(); x.log({'a': 1}); x.finish(); x.close()")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), tropt_tracker.library_path)

    def test_library_override(self):
        env = dict(os.environ, TROPT_LIBRARY=os.path.join(self.dir, "nope.so"))
        p = subprocess.run([sys.executable, "-c", "import tropt_tracker"], capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nope.so", p.stderr)


# ---- threads ----------------------------------------------------------------------

class TestThreads(TempDir):
    def test_eight_threads_every_step(self):
        path = self.db()
        per = 500
        errors = []
        with Tracker(f"sqlite:path={path},commit_every=1000") as t:
            t.init()

            def work(k):
                try:
                    for i in range(per):
                        t.log({"thread": k, "i": i, "v": {"x": float(i), "s": "t%d" % k}})
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        self.assertEqual(errors, [])
        rows = self.query(path, "SELECT a.step, a.value, b.value, c.value, d.value FROM metrics a "
                          "JOIN metrics b ON b.step = a.step AND b.key = 'i' "
                          "JOIN metrics c ON c.step = a.step AND c.key = 'v/x' "
                          "JOIN metrics d ON d.step = a.step AND d.key = 'v/s' "
                          "WHERE a.key = 'thread'")
        self.assertEqual(sorted(r[0] for r in rows), list(range(8 * per)))
        self.assertEqual(sorted((r[1], r[2]) for r in rows),
                         [(k, i) for k in range(8) for i in range(per)])
        self.assertTrue(all(r[3] == float(r[2]) and r[4] == "t%d" % r[1] for r in rows))


# ---- interpreter exit -----------------------------------------------------------

class TestExit(TempDir):
    def test_active_run_is_aborted_at_exit(self):
        # A daemon thread (a data loader, say) still holds the tracker when
        # the program ends: nothing but the exit hook can close it.
        self.child("import threading, tropt_tracker\n"
                   "t = tropt_tracker.Tracker('sqlite:path=exit.db')\n"
                   "t.init()\n"
                   "t.log({'x': 1})\n"
                   "held = threading.Event()\n"
                   "def loader(tracker=t):\n"
                   "    held.set()\n"
                   "    threading.Event().wait()\n"
                   "threading.Thread(target=loader, daemon=True).start()\n"
                   "held.wait()\n"
                   "del t\n")
        path = os.path.join(self.dir, "exit.db")
        self.assertEqual(self.query(path, "SELECT status FROM runs"), [("aborted",)])
        self.assertEqual(self.query(path, "SELECT key, value FROM metrics"), [("x", 1)])

    def test_http_program_without_close_exits(self):
        # The server is down: closing at exit spools the run (ended
        # "aborted") and the process exits.
        import json
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there: connections are refused
        self.child("import tropt_tracker\n"
                   f"t = tropt_tracker.Tracker('http:url=http://127.0.0.1:{port}/w,"
                   "retries=1,retry_initial=10ms,flush_timeout=2s')\n"
                   "t.init()\n"
                   "t.log({'x': 1})\n", timeout=120)
        spool = os.path.join(self.dir, "tropt-spool")
        events = []
        for name in sorted(os.listdir(spool)):
            with open(os.path.join(spool, name)) as f:
                events += [json.loads(line) for line in f if line.strip()]
        self.assertEqual([e["type"] for e in events], ["run_start", "log", "run_end"])
        self.assertEqual(events[1]["data"], {"x": 1})
        self.assertEqual(events[2]["status"], "aborted")


# ---- reading back: runs() and read_run() through the reader API ---------------

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
        self.assertEqual(cm.exception.name, "TROPT_EINVAL")
        with self.assertRaises(TypeError):
            tropt_tracker.runs(None)
        with self.assertRaises(TypeError):
            tropt_tracker.read_run(spec, 7)


if __name__ == "__main__":
    unittest.main()

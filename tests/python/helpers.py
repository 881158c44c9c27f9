"""What the tests of the tropt_tracker package share: temporary folders,
SQL read-back, a listener on a logger, child interpreters, the stand-in
tropt package and the reference BaseTracker it holds."""
import logging
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
# A stand-in of tropt (tropt/tracker/base.py is tropt's BaseTracker as
# published, the reference interface of SPEC 13).
STANDIN = os.path.join(HERE, "standin")
if STANDIN not in sys.path:
    sys.path.insert(0, STANDIN)

from tropt.tracker.base import BaseTracker  # noqa: E402  (the stand-in, see above)

REF_LOGGER = "tropt.tracker.base"


def bits(x):
    return struct.pack("<d", x)


class RecordingTracker(BaseTracker):
    """The reference state machine with hooks that only record."""

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


def query(path, sql, *args):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def python(code, timeout=120, env=None, cwd=None):
    """Run `code` in a fresh /usr/bin/python3 (the interpreter running the
    tests) with this environment; a child still running after `timeout`
    seconds (a deadline for a hang, not a wait) is killed and reported as
    None."""
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env if env is not None else dict(os.environ), cwd=cwd,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def wait_for(cond, deadline=60.0):
    """Poll cond() until it is true or the deadline passes; returns its value."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.005)


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
        return query(path, sql, *args)

    def child(self, code, timeout=120, env=None):
        """python(code) in the test's folder; fails the test on a hang or a
        non-zero exit, else returns its stdout."""
        p = python(code, timeout=timeout, env=env, cwd=self.dir)
        self.assertIsNotNone(p, f"the child did not exit within {timeout} s:\n{code}")
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

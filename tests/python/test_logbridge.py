"""logbridge: libtropt's diagnostics reach Python's logging, never stderr."""
import logging
import os
import unittest

from helpers import Listening, TempDir, python

from tropt_tracker import Tracker

class Raising(logging.Handler):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def emit(self, record):
        raise self.exc


class TestBridge(TempDir):
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
                "print(repr(got))\n")
        p = python(code, env=dict(os.environ, TROPT_LOG_LEVEL="debug"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        got = eval(p.stdout)  # noqa: S307 - our own repr
        self.assertIn(("tropt_tracker", "WARNING",
                       "finish() called on inactive tracker — ignoring."), got)
        self.assertTrue(all(name == "tropt_tracker" for name, _, _ in got))

    def test_other_handler_errors_do_not_reach_the_caller(self):
        log = logging.getLogger("tropt_tracker")
        h = Raising(RuntimeError("broken handler"))
        log.addHandler(h)
        try:
            with Tracker("null") as t, Listening("tropt_tracker"):
                t.finish()  # warns; the handler raises; the call succeeds
        finally:
            log.removeHandler(h)

    def test_exit_gives_diagnostics_back_to_stderr(self):
        # After the exit hook, a line from C goes to the default handler.
        code = ("import atexit, ctypes\n"
                "def late():\n"
                "    from tropt_tracker import _lib\n"
                "    t = _lib.vp()\n"
                "    _lib.tracker_open(ctypes.byref(t), b'null', None, None)\n"
                "    _lib.tracker_finish(t, None)\n"
                "    _lib.tracker_free(t)\n"
                "atexit.register(late)  # hooks run last first: after tropt_tracker's\n"
                "import tropt_tracker\n")
        p = python(code)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "tropt: warning: finish() called on inactive tracker — ignoring.\n")


if __name__ == "__main__":
    unittest.main()

"""logbridge: libtropt's diagnostics reach Python's logging, never stderr;
what a handler does from inside a C call is safe."""
import logging
import os
import unittest

from helpers import Listening, TempDir, python

from tropt_tracker import Tracker, runs

AUTO_FINISH = ("init() called on already-active tracker (previous run not finished). "
               "Auto-finishing the previous run.")


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

    def test_keyboard_interrupt_in_a_handler_is_raised_after_the_call(self):
        # Ctrl-C (or sys.exit in a signal handler) while a warning is being
        # emitted from C: raised once C has returned, not swallowed.
        path = self.db()
        log = logging.getLogger("tropt_tracker")
        for exc in (KeyboardInterrupt(), SystemExit(3)):
            with self.subTest(type(exc).__name__), Tracker(f"sqlite:path={path}") as t:
                t.init()
                h = Raising(exc)
                log.addHandler(h)
                try:
                    with self.assertRaises(type(exc)):
                        t.init()  # warns from inside C, then opens the next run
                finally:
                    log.removeHandler(h)
                self.assertTrue(t.active)  # the call itself completed
                t.log({"after": 1})
                t.finish()
        self.assertEqual(self.query(path, "SELECT status FROM runs ORDER BY run_id"),
                         [("aborted",), ("finished",)] * 2)

    def test_keyboard_interrupt_while_a_reader_warns(self):
        spec = "jsonl:path=" + os.path.join(self.dir, "r.jsonl")
        with Tracker(spec) as t:
            t.init()
            t.log({"x": 1})
        with open(os.path.join(self.dir, "r.jsonl"), "a") as f:
            f.write("{not json\n")  # the reader skips it with a warning
        log = logging.getLogger("tropt_tracker")
        h = Raising(KeyboardInterrupt())
        log.addHandler(h)
        try:
            with self.assertRaises(KeyboardInterrupt):
                runs(spec)
        finally:
            log.removeHandler(h)
        with Listening("tropt_tracker") as records:
            self.assertEqual(len(runs(spec)), 1)
        self.assertIn("malformed event skipped", records[0][1])

    def test_other_handler_errors_do_not_reach_the_caller(self):
        log = logging.getLogger("tropt_tracker")
        h = Raising(RuntimeError("broken handler"))
        log.addHandler(h)
        try:
            with Tracker("null") as t, Listening("tropt_tracker"):
                t.finish()  # warns; the handler raises; the call succeeds
        finally:
            log.removeHandler(h)

    def test_a_handler_may_use_the_tracker(self):
        # A logging handler that logs to the tracker the warning came from:
        # its call runs when the C call returns, in order.
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t:
            class Echo(logging.Handler):
                def emit(self, record):
                    t.log({"warning": record.getMessage()})
                    t.log({"then": t.active})

            log = logging.getLogger("tropt_tracker")
            h = Echo()
            log.addHandler(h)
            prop, log.propagate = log.propagate, False
            try:
                t.init({"run": 1})
                t.init({"run": 2})
            finally:
                log.removeHandler(h)
                log.propagate = prop
            t.finish()
        rows = self.query(path, "SELECT json_extract(r.config, '$.run'), m.step, m.key, m.value "
                          "FROM metrics m JOIN runs r USING (run_id) ORDER BY r.run_id, m.step")
        self.assertEqual(rows, [(2, 0, "warning", AUTO_FINISH), (2, 1, "then", 1)])

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

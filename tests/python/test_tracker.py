"""Tracker: the reference state machine, the run's life, steps, threads, reentrancy
(nested calls, signal handlers), fork() and the exit hook, read back from
the stores with Python's own sqlite3 and json modules."""
import json
import os
import pathlib
import threading
import unittest

from helpers import REF_LOGGER, Listening, RecordingTracker, TempDir, run_sequence

from tropt_tracker import Tracker, TrackerError

try:
    import numpy
except ImportError:  # pragma: no cover
    numpy = None

INACTIVE = "log() called on inactive tracker (missing init()?)"

AUTO_FINISH = ("init() called on already-active tracker (previous run not finished). "
               "Auto-finishing the previous run.")

# ---- parity with the reference ------------------------------------------------

SEQUENCES = {
    "init twice": [("init", {"a": 1}), ("init", {"b": 2}), ("log", {"x": 1}), ("finish", None)],
    "log while inactive": [("log", {"x": 1}), ("init", None), ("log", {"x": 1}),
                           ("finish", None), ("log", {"x": 2})],
    "finish while inactive": [("finish", None), ("init", None), ("finish", {"s": 1}),
                              ("finish", None)],
    "reuse after finish": [("init", {"r": 1}), ("log", {"x": 1}), ("finish", None),
                           ("init", {"r": 2}), ("log", {"x": 2}), ("finish", None)],
    # The reference asserts the state before it looks at the data.
    "bad data while inactive": [("log", {"x": 2**63}), ("log", {"o": object()}),
                                ("init", None), ("finish", None), ("log", {"x": 2**63}),
                                ("log", {"x": [float("nan")]}), ("log", {"k\x00": 1})],
}


class TestParity(TempDir):
    def compare(self, ops, experiment_config):
        ref = RecordingTracker("exp", experiment_config)
        path = self.db()
        t = Tracker(f"sqlite:path={path}", experiment_name="exp",
                    experiment_config=experiment_config)
        try:
            ref_out = run_sequence(ref, ops, REF_LOGGER)
            our_out = run_sequence(t, ops, "tropt_tracker")
            self.assertEqual(t.active, ref._active)
            self.assertEqual(t.experiment_name, ref.experiment_name)
            self.assertEqual(t.experiment_config, ref.experiment_config)
        finally:
            t.close()
        self.assertEqual(our_out, ref_out)
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
            run_sequence(ref, ops(ref), REF_LOGGER)
            run_sequence(t, ops(t), "tropt_tracker")
        (c,), = self.query(path, "SELECT config FROM runs")
        self.assertEqual(json.loads(c), ref.configs[0])
        self.assertEqual(ref.configs[0], {"z": 9, "a": 2})

    def test_warnings_are_the_reference_text(self):
        _, records = run_sequence(RecordingTracker(), SEQUENCES["init twice"] +
                                  [("finish", None)], REF_LOGGER)
        self.assertEqual([r[1] for r in records], [
            "init() called on already-active tracker (previous run not finished). "
            "Auto-finishing the previous run.",
            "finish() called on inactive tracker — ignoring."])

    def test_state_is_checked_before_the_data(self):
        # After finish, a value the data checks would refuse still raises
        # the reference's AssertionError (and no __float__ is called).
        calls = []

        class Watched:
            def __float__(self):
                calls.append(1)
                return 1.0

        with Tracker("null") as t:
            t.init()
            t.finish()
            for data in ({"x": 2**63}, {"x": Watched()}, {"n": {"x": 1 << 64}}):
                with self.assertRaises(AssertionError) as cm:
                    t.log(data)
                self.assertEqual(str(cm.exception), INACTIVE)
            with self.assertRaises(AssertionError):
                t.log({"x": 1}, step=-1)
        self.assertEqual(calls, [])


# ---- the run's life -------------------------------------------------------------

class TestLifecycle(TempDir):
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

    def test_auto_finish_records_aborted(self):
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t, Listening("tropt_tracker") as records:
            t.init({"n": 1})
            first = t.run_id
            t.log({"x": 1})
            t.init({"n": 2})  # the first run's owner never finished it
            second = t.run_id
            t.finish()
        self.assertEqual([m for _, m in records], [AUTO_FINISH])
        self.assertNotEqual(first, second)
        self.assertEqual(dict(self.query(path, "SELECT run_id, status FROM runs")),
                         {first: "aborted", second: "finished"})

    def test_run_id_and_active_follow_the_run(self):
        with Tracker("null") as t:
            self.assertEqual((t.active, t.run_id), (False, None))
            t.init()
            self.assertTrue(t.active)
            self.assertRegex(t.run_id, r"^[0-9a-f]{8}-[0-9a-f]{4}-7")
            t.finish()
            self.assertEqual((t.active, t.run_id), (False, None))

    def test_use_after_close(self):
        t = Tracker("null")
        t.init()
        t.close()
        t.close()  # idempotent
        self.assertFalse(t.active)
        self.assertIsNone(t.run_id)
        for call in (lambda: t.log({"x": 1}), lambda: t.log({"x": [1]}, step=3), t.init,
                     t.finish, t.flush):
            with self.assertRaises(TrackerError) as cm:
                call()
            self.assertEqual(cm.exception.name, "TROPT_ESTATE")

    def test_flush_makes_steps_visible(self):
        path = self.db()
        with Tracker(f"sqlite:path={path},commit_every=1000") as t:
            t.init()
            for i in range(10):
                t.log({"i": i})
            t.flush()
            self.assertEqual(self.query(path, "SELECT count(*) FROM metrics")[0][0], 10)


# ---- explicit steps ----------------------------------------------------------------

class TestStep(TempDir):
    def rows(self, path):
        return self.query(path, "SELECT step, key, value FROM metrics ORDER BY step, key")

    def test_explicit_steps_need_not_be_consecutive(self):
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t:
            t.init()
            for epoch in range(3):
                for i in range(2):  # training steps, numbered by the library
                    t.log({"loss": float(10 * epoch + i)})
                # a validation log at the last training step: no step of its own
                t.log({"val/loss": epoch + 0.5}, step=2 * epoch + 1)
            t.log({"late": 1}, step=100)
            t.log({"after": 1})  # continues after the highest step
        self.assertEqual(self.rows(path), [
            (0, "loss", 0.0), (1, "loss", 1.0), (1, "val/loss", 0.5),
            (2, "loss", 10.0), (3, "loss", 11.0), (3, "val/loss", 1.5),
            (4, "loss", 20.0), (5, "loss", 21.0), (5, "val/loss", 2.5),
            (100, "late", 1), (101, "after", 1)])

    def test_a_step_logged_twice_merges(self):
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t:
            t.init()
            t.log({"a": 1, "b": "x"}, step=7)
            t.log({"c": 2.5, "b": "y"}, step=7)  # the prepared path, then the general one
            t.log({"c": 3.5, "b": "z"}, step=7)
            t.log({"d": 1})
        self.assertEqual(self.rows(path), [(7, "a", 1), (7, "b", "z"), (7, "c", 3.5),
                                           (8, "d", 1)])

    def test_step_values(self):
        with Tracker("null") as t:
            t.init()
            t.log({"x": 1}, step=0)
            t.log({"x": 1}, step=2**63 - 1)
            if numpy is not None:
                t.log({"x": 1}, step=numpy.int64(5))
            for bad, err in ((-1, ValueError), (2**63, ValueError), (1.0, TypeError),
                             (True, TypeError), ("3", TypeError)):
                with self.subTest(step=bad):
                    with self.assertRaisesRegex(err, "step"):
                        t.log({"x": 1}, step=bad)
            self.assertTrue(t.active)


# ---- run identity, resume, checkpoint marks (SPEC 14-16) ---------------------------

class TestRunIdentity(TempDir):
    def spec(self):
        return "jsonl:path=" + os.path.join(self.dir, "runs.jsonl")

    def test_run_name_names_every_run_of_the_tracker(self):
        with Tracker(self.spec(), run_name="lr-sweep") as t, Listening("tropt_tracker"):
            t.init()
            self.assertEqual(t.run_name, "lr-sweep")
            t.finish()
            self.assertIsNone(t.run_name)
            t.init()
            self.assertEqual(t.run_name, "lr-sweep-2")
            t.init()  # auto-finishes the second
            self.assertEqual(t.run_name, "lr-sweep-3")
        with Tracker(self.spec()) as t:
            t.init()
            self.assertRegex(t.run_name, r"^[a-z]+-[a-z]+-\d+$")  # the library's default

    def test_bad_names_and_options_fail_at_construction(self):
        for kwargs, message in ((dict(run_name="a/b"), "'/'"), (dict(run_name=".hidden"), "'.'"),
                                (dict(resume="sometimes"), "never|allow|must"),
                                (dict(resume_key="k" * 201), "200 bytes"),
                                (dict(sys="bogus"), "duration")):
            with self.subTest(**kwargs):
                with self.assertRaises(TrackerError) as cm:
                    Tracker("null", **kwargs)
                self.assertEqual(cm.exception.name, "TROPT_EINVAL")
                self.assertIn(message, cm.exception.message)
        with self.assertRaises(TypeError):
            Tracker("null", run_name=5)
        with self.assertRaisesRegex(ValueError, "NUL"):
            Tracker("null", resume_key="a\x00b")
        with self.assertRaisesRegex(ValueError, "sys"):
            Tracker("null", sys=-1)
        with self.assertRaises(TypeError):
            Tracker("null", no_such_option=1)

    def test_resume_options_reach_the_library(self):
        with Tracker(self.spec(), resume="must", resume_key="job-42") as t:
            with self.assertRaises(TrackerError) as cm:
                t.init()  # must: the store holds no run with that key
        self.assertEqual(cm.exception.name, "TROPT_ENOTFOUND")
        self.assertIn("'job-42'", cm.exception.message)
        with Tracker(self.spec(), resume="allow", resume_key="job-42", sys=60) as t, \
                Listening("tropt_tracker"):
            t.init()  # allow: a new run carrying the key
            self.assertTrue(t.active)

    def test_tag_and_checkpoint(self):
        ckpt = os.path.join(self.dir, "model.pt")
        with open(ckpt, "wb") as f:
            f.write(b"weights")
        with Tracker(self.spec()) as t:
            for call in (lambda: t.tag("baseline"), lambda: t.checkpoint(ckpt)):
                with self.assertRaises(TrackerError) as cm:
                    call()  # no active run
                self.assertEqual(cm.exception.name, "TROPT_ESTATE")
            t.init()
            t.tag("baseline")
            t.log({"loss": 0.5})
            t.checkpoint(ckpt)
            t.checkpoint(pathlib.Path(ckpt))
            with self.assertRaises(TrackerError) as cm:
                t.tag("a,b")
            self.assertEqual(cm.exception.name, "TROPT_EINVAL")
            with self.assertRaises(TrackerError) as cm:
                t.checkpoint(os.path.join(self.dir, "missing.pt"))
            self.assertIn("missing.pt", cm.exception.message)
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.checkpoint("a\x00b")
            t.finish()


# ---- threads ------------------------------------------------------------------------

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


# ---- reentrancy: a call made while another call of the thread is running ---------

class TestReentrancy(TempDir):
    def steps(self, path):
        out = {}
        for step, key, value in self.query(path, "SELECT step, key, value FROM metrics"):
            out.setdefault(step, {})[key] = value
        return out

    def test_log_inside_log(self):
        # A value whose conversion logs: both steps arrive whole.
        path = self.db()
        with Tracker(f"sqlite:path={path}") as t:
            class Sneaky:
                def __float__(self):
                    t.log({"inner": 1.5, "tag": "in"})
                    return 2.5

            t.init()
            t.log({"a": 1.0, "tag": "warm"})  # learns a shape
            t.log({"a": 1.0, "b": Sneaky(), "tag": "out"})
            t.log({"a": 3.0, "tag": "after"})  # the learned shape still holds
        self.assertEqual(self.steps(path), {
            0: {"a": 1.0, "tag": "warm"}, 1: {"inner": 1.5, "tag": "in"},
            2: {"a": 1.0, "b": 2.5, "tag": "out"}, 3: {"a": 3.0, "tag": "after"}})

    SIGNALS = r"""
import json, os, signal, sys, threading, time
import tropt_tracker
t = tropt_tracker.Tracker("sqlite:path=sig.db,commit_every=1000")
t.init()
handled = [0]
def on_usr1(signo, frame):
    t.log({"sig": handled[0], "s": "h%d" % handled[0]})
    handled[0] += 1
def on_term(signo, frame):
    t.log({"last": 1})
    t.finish({"by": "sigterm"})
    sys.exit(0)
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, on_term)
N = 300
def sender():
    for k in range(N):
        os.kill(os.getpid(), signal.SIGUSR1)
        while handled[0] == k:  # the condition: this signal was handled
            time.sleep(0.0005)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=sender, daemon=True).start()
i = 0
while True:  # a training loop, preempted by SIGTERM
    t.log({"i": i, "v": float(i), "s": "m%d" % i})
    i += 1
"""

    def test_signal_handlers_log_and_finish(self):
        # A handler can run while log() holds the tracker: it must neither
        # deadlock nor overwrite the interrupted step.
        self.child(self.SIGNALS, timeout=int(os.environ.get("T_SIG", 240)))
        path = os.path.join(self.dir, "sig.db")
        self.assertEqual(self.query(path, "SELECT status FROM runs"), [("finished",)])
        self.assertEqual(self.query(path, "SELECT key, value FROM summary"), [("by", "sigterm")])
        steps = self.steps(path)
        sig = sorted(d["sig"] for d in steps.values() if "sig" in d)
        self.assertEqual(sig, list(range(300)))
        main = sorted(d["i"] for d in steps.values() if "i" in d)
        self.assertEqual(main, list(range(len(main))))
        for d in steps.values():
            if "sig" in d:
                self.assertEqual(d, {"sig": d["sig"], "s": "h%d" % d["sig"]})
            elif "i" in d:
                self.assertEqual(d, {"i": d["i"], "v": float(d["i"]), "s": "m%d" % d["i"]})
            else:
                self.assertEqual(d, {"last": 1})
        self.assertEqual(len(steps), 300 + len(main) + 1)

    INSIDE_C = r"""
import json, logging, signal
import tropt_tracker
t = tropt_tracker.Tracker("sqlite:path=in.db")
events = []
class RaiseSignal(logging.Handler):
    # Runs inside the C call that emits the warning, as a signal handler
    # due at that moment would.
    def emit(self, record):
        events.append("warning")
        signal.raise_signal(signal.SIGUSR1)
def on_usr1(signo, frame):
    events.append("handler")
    t.log({"sig": 1})
    t.finish({"by": "signal"})
    events.append("handler returned")
signal.signal(signal.SIGUSR1, on_usr1)
logging.getLogger("tropt_tracker").addHandler(RaiseSignal())
t.init({"run": "A"})
t.log({"a": 1})
t.init({"run": "B"})  # warns from inside C: the handler's calls run when init returns
events.append("init returned, active=%s" % t.active)
t.close()
print(json.dumps(events))
"""

    def test_handler_inside_a_c_call(self):
        out = self.child(self.INSIDE_C, timeout=120)
        self.assertEqual(json.loads(out), ["warning", "handler", "handler returned",
                                           "init returned, active=False"])
        path = os.path.join(self.dir, "in.db")
        runs = self.query(path, "SELECT json_extract(config, '$.run'), status, "
                          "(SELECT group_concat(key || '=' || value) FROM summary s "
                          "WHERE s.run_id = r.run_id), "
                          "(SELECT group_concat(step || ':' || key || '=' || value) FROM metrics m "
                          "WHERE m.run_id = r.run_id) FROM runs r ORDER BY run_id")
        self.assertEqual(runs, [("A", "aborted", None, "0:a=1"),
                                ("B", "finished", "by=signal", "0:sig=1")])


# ---- fork ---------------------------------------------------------------------------

class TestFork(TempDir):
    CODE = r"""
import json, logging, os, sys, threading
import tropt_tracker
spec = "null;recorder:fail=log,on_error=warn"  # every log() warns from inside C
t = tropt_tracker.Tracker(spec)
t.init()
inside, release = threading.Event(), threading.Event()
class Hold(logging.Handler):
    def emit(self, record):
        if threading.current_thread().name == "logger":
            inside.set()
            release.wait()
logging.getLogger("tropt_tracker").addHandler(Hold())
t.log({"x": 0})  # the main thread learns the shape (its fast path)
th = threading.Thread(target=lambda: t.log({"x": 1}), name="logger")
th.start()
inside.wait()  # that thread is inside log(), in C, holding the tracker
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    out = []
    for name, call in (("log", lambda: t.log({"y": 1})), ("log fast", lambda: t.log({"x": 2})),
                       ("log step", lambda: t.log({"y": 1}, step=9)), ("flush", t.flush),
                       ("finish", t.finish), ("init", t.init)):
        try:
            call()
            out.append([name, None])
        except tropt_tracker.TrackerError as e:
            out.append([name, e.name, "forked child" in e.message])
        except BaseException as e:
            out.append([name, type(e).__name__, str(e)])
    out.append(["active", t.active])
    t.close()
    os.write(w, json.dumps(out).encode())
    os._exit(0)
os.close(w)
data = b""
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    data += chunk
_, st = os.waitpid(pid, 0)
release.set()
th.join()
t.finish()
t.close()
print(data.decode())
"""

    def test_child_gets_estate_while_a_parent_thread_is_inside_log(self):
        out = self.child(self.CODE, timeout=120)
        got = json.loads(out)
        want = [[n, "TROPT_ESTATE", True]
                for n in ("log", "log fast", "log step", "flush", "finish", "init")]
        self.assertEqual(got, want + [["active", False]])


# ---- interpreter exit ---------------------------------------------------------------

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


if __name__ == "__main__":
    unittest.main()

"""Tracker: one libtropt tracker, with the state machine of tropt's
reference BaseTracker (SPEC 13).

Reentrancy.  The C library serializes the calls on one tracker with a
mutex that is held while its backends run, and it calls the log bridge
(and so Python's logging handlers, and any signal handler that becomes due
meanwhile) from inside such a call.  A call on the same tracker made from
there, on the same thread, cannot enter C without deadlocking on that
mutex, so the binding runs it right after the call it interrupted returns:
its arguments are checked and converted at once (errors raise to it), its
C call is queued, and the interrupted call runs the queue before it
returns; an error of a queued call is logged on the "tropt_tracker" logger,
its caller having returned.  A call made from a signal or logging handler
at any other point runs at once.  Nothing is ever written from a buffer
another call of the thread is still filling (see fields.py).

fork().  A tracker belongs to the process that opened it (SPEC 3): in a
child, init, log, finish and flush raise TrackerError TROPT_ESTATE, even
if another thread of the parent was inside one of them when it forked,
and close() only forgets the tracker.

Exit.  Every tracker still open when the interpreter exits is closed by an
atexit hook, so its active run is finished "aborted" and its backends are
stopped while Python can still run the log bridge.
"""
import atexit
import ctypes
import os
import struct
import threading
import weakref

from . import _lib, errors, fields, logbridge
from .errors import MSG_LOG_INACTIVE
from .values import INT64_MAX, json_object

DEFAULT_EXPERIMENT = "tropt_experiment"

_log_at = _lib.tracker_log_fields_at
_tls = fields._tls
_Buffer = fields.Buffer
_live = weakref.WeakSet()


class Tracker:
    """A tracker over one or more libtropt backends (see the module text).

    Tracker(spec=None, experiment_name="tropt_experiment",
            experiment_config=None, *, run_name=None, resume=None,
            resume_key=None, sys=None)
    spec None means $TROPT_TRACKER, else the library's default.
    run_name names the tracker's first run; its later runs are named
    run_name-2, run_name-3, ... (SPEC 14; without it the library names
    them).  resume ("never", "allow", "must") and resume_key continue the
    run of the store carrying that key at init (SPEC 15); sys starts the
    system-metrics sampler: a duration ("15s") or a number of seconds
    (SPEC 16).  Each overrides its environment variable.  Raises
    TrackerError when a backend cannot be opened or an option or name is
    wrong."""

    def __init__(self, spec=None, experiment_name=DEFAULT_EXPERIMENT, experiment_config=None,
                 *, run_name=None, resume=None, resume_key=None, sys=None):
        self._h = None
        self._lock = threading.RLock()
        self._busy = False  # a C call on this tracker is in progress (under _lock)
        self._queue = []  # calls made from inside it, run when it returns
        self._run = None  # the active run's id, as C last said
        self._run_name = None  # and its name
        self._forked = False
        self._name_base = None if run_name is None else _text_arg("run_name", run_name)
        self._inits = 0  # runs opened so far (for run_name-2, ...)
        options = [(k, _option_text(k, v)) for k, v in
                   (("resume", resume), ("resume_key", resume_key), ("sys", sys)) if v is not None]
        self.experiment_name = experiment_name
        self.experiment_config = experiment_config
        if spec is not None and not isinstance(spec, str):
            raise TypeError("tropt_tracker: spec must be a str or None")
        if not isinstance(experiment_name, str):
            raise TypeError("tropt_tracker: experiment_name must be a str")
        # Checked now (a bad value fails here), merged at each init() from the
        # attribute as the reference does, so reassigning it takes effect.
        cfg = json_object("experiment_config", experiment_config)
        if cfg:
            _lib.json_delete(cfg)
        h = _lib.vp()
        rc = _lib.tracker_open(ctypes.byref(h), None if spec is None else spec.encode(),
                               experiment_name.encode(), None)
        err = errors.error(rc) if rc else None
        if h.value:
            self._h = h.value
            _live.add(self)
        if logbridge.pending:  # Ctrl-C while open() warned: closed by __del__
            logbridge.reraise_pending()
        if err is not None:
            raise err
        try:
            for key, value in options:
                errors.check(_lib.tracker_set_option(self._h, key.encode(), value))
            if self._name_base is not None:
                errors.check(_lib.tracker_set_run_name(self._h, self._name_base))
        except BaseException:
            self.close()
            raise

    # ---- state ----

    @property
    def active(self):
        """True while a run is open (between init and finish)."""
        return self._run is not None and self._h is not None and not self._forked

    @property
    def run_id(self):
        """The active run's id (UUIDv7 text) or None."""
        return self._run if self.active else None

    @property
    def run_name(self):
        """The active run's name or None."""
        return self._run_name if self.active else None

    @property
    def closed(self):
        return self._h is None

    # ---- calls into C ----

    def _call(self, fn, args, hold=None, jsons=None, sync=False):
        """Run fn(handle, *args) under the lock, or queue it when this thread
        is already inside a C call on this tracker (then returns False).
        Frees `jsons` once the call ran; `hold` lives until then.  With
        sync, the active run's id is read back afterwards.  Raises the
        call's error."""
        with self._lock:
            if self._busy or self._queue:  # inside a call of this thread, or its queue
                self._queue.append((fn, args, hold, jsons, sync))
                return False
            err = None
            try:
                self._busy = True
                h = self._h
                if h is None:
                    raise errors.closed()
                rc = fn(h, *args)
                if rc:
                    err = errors.error(rc)  # the message before any other call
                if sync and not self._forked:
                    self._sync(h)
            finally:
                self._busy = False
                _free_all(jsons)
                if self._queue:
                    self._drain()
        if logbridge.pending:
            logbridge.reraise_pending()
        if err is not None:
            raise err
        return True

    def _sync(self, h):
        r = _lib.tracker_run_id(h)
        self._run = r.decode() if r else None
        r = _lib.tracker_run_name(h) if r else None
        self._run_name = r.decode("utf-8", "replace") if r else None

    def _drain(self):
        """Run, in order, the calls queued during the C call that just
        returned (and those they queue in turn).  An exception raised meanwhile
        by a signal handler (SystemExit) does not stop the queue: it is
        raised once the queue is empty."""
        q = self._queue
        failure = None
        while q:
            entry = None
            try:
                self._busy = True
                entry = q.pop(0)
                self._run_queued(*entry)
            except BaseException as e:
                if failure is None:
                    failure = e
            finally:
                self._busy = False
                if entry is not None:
                    _free_all(entry[3])
        if failure is not None:
            raise failure

    def _run_queued(self, fn, args, hold, jsons, sync):
        h = self._h
        if h is None:
            logbridge.logger.error("tropt_tracker: a call made during another call was not "
                                   "run: the tracker is closed")
            return
        rc = fn(h, *args)
        if rc:
            logbridge.logger.error("tropt_tracker: a call made during another call failed: %s",
                                   errors.error(rc))
        if sync and not self._forked:
            self._sync(h)

    # ---- the reference interface ----

    def init(self, config=None):
        """Open a run (auto-finishing an active one as "aborted", with the
        reference warning) whose config is {**experiment_config, **config}
        (None when empty)."""
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"tropt_tracker: config must be a dict or None, "
                            f"not {type(config).__name__}")
        ec = self.experiment_config
        if ec is not None and not isinstance(ec, dict):
            raise TypeError("tropt_tracker: experiment_config must be a dict or None")
        self._init_merged({**(ec or {}), **(config or {})} or None)

    def _init_merged(self, merged):
        if self._h is None:
            raise errors.closed()
        j = json_object("config", merged)
        jsons = [j] if j else None
        self._inits += 1
        if self._name_base is not None and self._inits > 1:  # the first was set at open
            name = self._name_base + b"-%d" % self._inits
            self._call(_named_init, (name, j), jsons=jsons, sync=True)
        else:
            self._call(_lib.tracker_init, (j,), jsons=jsons, sync=True)

    def log(self, data, step=None):
        """Write one step: the next one, or `step` (an int >= 0; steps need not
        be consecutive, and fields logged again at a step are merged into
        it).  AssertionError when no run is active, whatever the data (as
        the reference checks the state first)."""
        if step is None:
            s = -1
        elif type(step) is int and 0 <= step <= INT64_MAX:
            s = step
        else:
            s = self._step(step)
        tls = _tls
        b = tls.b
        tls.b = None
        if b is None:  # a call of this thread holds the spare buffer
            b = _Buffer()
        if type(data) is dict:
            # Fast path: the same keys and value types as this buffer's last
            # step: the values packed into the prepared field array.
            keys = tuple(data)
            vals = list(data.values())
            types = tuple(map(type, vals))
            if keys == b.keys and types == b.types and b.pack is not None:
                keep = [] if b.conv else None
                try:
                    fits = keep is None or fields.convert(b.conv, vals, keep)
                except BaseException:  # a tensor's own method failed
                    tls.b = b
                    raise
                if fits:
                    args = b.args
                    args[2::3] = vals
                    try:
                        b.pack(b.buf, 0, *args)
                    except struct.error:  # an int beyond int64: the general path names it
                        pass
                    else:
                        try:
                            ran = self._call(_log_at, (s, -1.0, b.addr, b.n), (b, keep))
                        except BaseException:
                            tls.b = b
                            raise
                        if ran:  # else the queued call holds b until it runs
                            tls.b = b
                        return
        elif not isinstance(data, dict):
            tls.b = b
            raise TypeError(f"tropt_tracker: log() takes a dict, not {type(data).__name__}")
        else:
            keys = types = None
        self._log_general(b, data, s, keys, types)

    def _log_general(self, b, data, s, keys, types):
        """log() of any dict: state checked first (as the reference does),
        then the values walked and converted."""
        if self._h is None:
            _tls.b = b
            raise errors.closed()
        if self._run is None and not self._forked:
            _tls.b = b
            raise AssertionError(MSG_LOG_INACTIVE)
        keep = []
        jsons = []
        try:
            n = fields.write(b, data, keep, jsons)
        except BaseException:
            _free_all(jsons)
            _tls.b = b
            raise
        try:
            ran = self._call(_log_at, (s, -1.0, b.addr, n), (b, keep), jsons)
        except BaseException:
            _tls.b = b
            raise
        if not ran:
            return  # queued: the buffer is the queued call's until it runs
        _tls.b = b
        if keys is not None and (keys != b.keys or types != b.types):
            try:
                b.learn(keys, list(data.values()))
            except Exception:  # a value's method failed: the step is logged, no shape kept
                b.keys = None

    def _step(self, step):
        if self._run is None and self._h is not None and not self._forked:
            raise AssertionError(MSG_LOG_INACTIVE)
        if isinstance(step, bool) or not hasattr(type(step), "__index__"):
            raise TypeError(f"tropt_tracker: step must be an int >= 0 or None, "
                            f"not {type(step).__name__}")
        s = step.__index__()
        if not 0 <= s <= INT64_MAX:
            raise ValueError(f"tropt_tracker: step must be between 0 and 2**63-1, not {s}")
        return s

    def finish(self, summary=None):
        """Close the active run, writing summary; warns and returns when inactive."""
        if self._h is None:
            raise errors.closed()
        j = json_object("summary", summary)
        self._call(_lib.tracker_finish, (j,), jsons=[j] if j else None, sync=True)

    def _finish_as(self, status, summary=None):
        """finish() recording `status` ("aborted", ...) instead of "finished"."""
        if self._h is None:
            raise errors.closed()
        j = json_object("summary", summary)
        self._call(_lib.tracker_finish_run, (status.encode(), 0.0, j),
                   jsons=[j] if j else None, sync=True)

    def tag(self, tag):
        """Tag the active run ("baseline"): kept by every backend that keeps
        run metadata.  TrackerError TROPT_ESTATE when no run is active,
        TROPT_EINVAL for a tag that is not a valid name or holds ','."""
        self._call(_lib.tracker_tag, (_text_arg("tag", tag),))

    def checkpoint(self, path):
        """Record a checkpoint mark: the optimizer saved its state to the file
        `path` (str, bytes or path-like) after the last step it logged, so a
        resumed run continues at the step after it (SPEC 15).  The file's
        size and SHA-256 are computed off this thread.  TrackerError
        TROPT_ESTATE when no run is active, TROPT_EINVAL when there is no
        such file."""
        p = os.fsencode(path)
        if b"\x00" in p:
            raise ValueError("tropt_tracker: checkpoint path holds a NUL character")
        self._call(_lib.tracker_checkpoint, (p,))

    def flush(self):
        """Make everything logged so far durable in every backend."""
        self._call(_lib.tracker_flush, ())

    def close(self):
        """Free the tracker: an active run is finished as "aborted".  Idempotent."""
        with self._lock:
            if self._h is None:
                return
            if self._busy or self._queue:  # inside a call on it: freed when that returns
                self._queue.append((_close_queued, (self,), None, None, False))
                return
            h, self._h = self._h, None
            self._run = self._run_name = None
            if h is not None:
                try:
                    self._busy = True
                    _lib.tracker_free(h)
                finally:
                    self._busy = False
                    if self._queue:
                        self._drain()
        _live.discard(self)
        if logbridge.pending:
            logbridge.reraise_pending()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """Finishes an active run normally, unless the block raised (then the
        run ends "aborted"); always closes."""
        try:
            if exc_type is None and self.active:
                self.finish()
        finally:
            self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "closed" if self._h is None else ("active" if self.active else "inactive")
        return f"<tropt_tracker.Tracker {self.experiment_name!r} {state}>"


def _text_arg(what, v):
    """A str argument as UTF-8 bytes for C (TypeError, or ValueError for a
    NUL character, naming it)."""
    if not isinstance(v, str):
        raise TypeError(f"tropt_tracker: {what} must be a str, not {type(v).__name__}")
    if "\x00" in v:
        raise ValueError(f"tropt_tracker: {what} holds a NUL character")
    return v.encode("utf-8")


def _option_text(key, value):
    """The text of host option `key` (tropt_tracker_set_option): a str as
    it is; for sys also a number of seconds, or False for "off"."""
    if key == "sys" and value is False:
        return b"off"
    if key == "sys" and type(value) in (int, float):
        if not value > 0:
            raise ValueError(f"tropt_tracker: sys must be a duration > 0, not {value}")
        ms = round(value * 1000)
        return b"%ds" % (ms // 1000) if ms % 1000 == 0 else b"%dms" % ms
    return _text_arg(key, value)


def _named_init(h, name, config):
    """tropt_tracker_init of a run named `name` (one queued call)."""
    rc = _lib.tracker_set_run_name(h, name)
    return rc if rc else _lib.tracker_init(h, config)


def _close_queued(h, tracker):
    """A close() made during a C call on the tracker, run once it returned."""
    tracker._h = None
    tracker._run = tracker._run_name = None
    _lib.tracker_free(h)
    _live.discard(tracker)
    return 0


def _free_all(jsons):
    if jsons:
        for j in jsons:
            if j:
                _lib.json_delete(j)


def _after_fork_in_child():
    # The parent's threads are gone: a lock one of them held, or a call it
    # was in, must not block or defer the child's calls, which C refuses.
    for t in list(_live):
        t._lock = threading.RLock()
        t._busy = False
        t._queue = []
        t._forked = True
    _tls.b = None


def _at_exit():
    # Close every tracker (finishing active runs "aborted", stopping the
    # backends' threads) while Python can still run the log bridge, then
    # give diagnostics back to the C default handler.
    for t in list(_live):
        try:
            t.close()
        except Exception:
            pass
    logbridge.detach()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_at_exit)

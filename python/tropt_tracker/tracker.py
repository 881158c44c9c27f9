"""Tracker: one libtropt tracker, with the state machine of tropt's
reference BaseTracker (SPEC 13).  Every tracker still open when the
interpreter exits is closed by an atexit hook, so its active run is
finished "aborted" and its backends are stopped while Python can still run
the log bridge."""
import atexit
import ctypes
import struct
import threading
import weakref

from . import _lib, errors, fields, logbridge
from .errors import MSG_LOG_INACTIVE
from .values import json_object

DEFAULT_EXPERIMENT = "tropt_experiment"

_log_at = _lib.tracker_log_fields_at
_live = weakref.WeakSet()


class Tracker:
    """A tracker over one or more libtropt backends.

    Tracker(spec=None, experiment_name="tropt_experiment",
            experiment_config=None)
    spec None means $TROPT_TRACKER, else the library's default.  Raises
    TrackerError when a backend cannot be opened or an option is wrong."""

    def __init__(self, spec=None, experiment_name=DEFAULT_EXPERIMENT, experiment_config=None):
        self._h = None
        self._lock = threading.Lock()
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
        errors.check(rc)
        self._h = h.value
        _live.add(self)

    def _handle(self):
        if self._h is None:
            raise errors.closed()
        return self._h

    @property
    def active(self):
        """True while a run is open (between init and finish)."""
        h = self._h
        return bool(h is not None and _lib.tracker_is_active(h))

    @property
    def run_id(self):
        """The active run's id (UUIDv7 text) or None."""
        with self._lock:
            if self._h is None:
                return None
            r = _lib.tracker_run_id(self._h)
            return r.decode() if r else None

    @property
    def closed(self):
        return self._h is None

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
        j = json_object("config", {**(ec or {}), **(config or {})} or None)
        try:
            with self._lock:
                rc = _lib.tracker_init(self._handle(), j)
        finally:
            if j:
                _lib.json_delete(j)
        errors.check(rc)

    def log(self, data):
        """Write one step.  AssertionError when no run is active, whatever the
        data (as the reference checks the state first)."""
        tls = fields.tls
        if type(data) is dict:
            # Fast path: the same keys with the same number/bool types as this
            # thread's previous step: one struct.pack_into of the values into
            # the prepared field array, then one C call.
            keys = tuple(data)
            vals = list(data.values())
            types = tuple(map(type, vals))
            if keys == tls.keys and types == tls.types:
                args = tls.args
                args[2::3] = vals
                try:
                    tls.pack(tls.buf, 0, *args)
                except struct.error:  # an int beyond int64: the slow path names it
                    pass
                else:
                    with self._lock:
                        rc = _log_at(self._handle(), -1, -1.0, tls.addr, tls.n)
                    errors.check(rc)
                    return
        elif not isinstance(data, dict):
            raise TypeError(f"tropt_tracker: log() takes a dict, not {type(data).__name__}")
        else:
            keys = types = None
        # The reference asserts the state before it looks at the data.
        if not _lib.tracker_is_active(self._handle()):
            raise AssertionError(MSG_LOG_INACTIVE)
        keep = []
        jsons = []
        try:
            n = fields.write(tls, data, keep, jsons)
            with self._lock:
                rc = _log_at(self._handle(), -1, -1.0, tls.addr, n)
        finally:
            for j in jsons:
                _lib.json_delete(j)
        errors.check(rc)
        if keys is not None and keys != tls.keys:
            tls.learn(keys, types)

    def finish(self, summary=None):
        """Close the active run, writing summary; warns and returns when inactive."""
        j = json_object("summary", summary)
        try:
            with self._lock:
                rc = _lib.tracker_finish(self._handle(), j)
        finally:
            if j:
                _lib.json_delete(j)
        errors.check(rc)

    def flush(self):
        """Make everything logged so far durable in every backend."""
        with self._lock:
            rc = _lib.tracker_flush(self._handle())
        errors.check(rc)

    def close(self):
        """Free the tracker: an active run is finished as "aborted".  Idempotent."""
        with self._lock:
            h, self._h = self._h, None
            if h is not None:
                _lib.tracker_free(h)
        _live.discard(self)

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


atexit.register(_at_exit)

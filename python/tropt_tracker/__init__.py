"""tropt_tracker: the Python binding of libtropt (ctypes, standard library only).

    from tropt_tracker import Tracker, TrackerError
    t = Tracker("sqlite:path=runs.db", experiment_name="exp", experiment_config={"seed": 1})
    t.init({"lr": 0.01})
    t.log({"loss": 0.5, "acc": {"top1": 0.9}})
    t.finish({"best": 0.4})
    t.close()

The library is found through $TROPT_LIBRARY (a path to libtropt.so), else
the path recorded when the package was installed, else the system's
library search path.  Every diagnostic of the C library goes to the
`logging` logger "tropt_tracker" (the C threshold is $TROPT_LOG_LEVEL,
default warning).  The C calls run without the GIL.
"""
import atexit
import ctypes
import json
import logging
import os
import struct
import threading
import weakref

__all__ = ["Tracker", "TrackerError", "library_path", "runs", "read_run"]

logger = logging.getLogger("tropt_tracker")

_NULL, _BOOL, _INT, _REAL, _STRING, _JSON = range(6)
_ESTATE = -4


def _library_path():
    path = os.environ.get("TROPT_LIBRARY")
    if path:
        return path
    try:
        from . import _config
        if os.path.exists(_config.LIBTROPT):
            return _config.LIBTROPT
    except ImportError:
        pass
    return "libtropt.so.0"


library_path = _library_path()
_lib = ctypes.CDLL(library_path)  # CDLL: every call releases the GIL

_vp = ctypes.c_void_p
_lib.tropt_tracker_open.argtypes = [ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_char_p, _vp]
_lib.tropt_tracker_open.restype = ctypes.c_int
for _name in ("tropt_tracker_init", "tropt_tracker_finish"):
    getattr(_lib, _name).argtypes = [_vp, _vp]
    getattr(_lib, _name).restype = ctypes.c_int
_lib.tropt_tracker_log_fields.argtypes = [_vp, _vp, ctypes.c_size_t]
_lib.tropt_tracker_log_fields.restype = ctypes.c_int
_lib.tropt_tracker_flush.argtypes = [_vp]
_lib.tropt_tracker_flush.restype = ctypes.c_int
_lib.tropt_tracker_is_active.argtypes = [_vp]
_lib.tropt_tracker_is_active.restype = ctypes.c_int
_lib.tropt_tracker_run_id.argtypes = [_vp]
_lib.tropt_tracker_run_id.restype = ctypes.c_char_p
_lib.tropt_tracker_free.argtypes = [_vp]
_lib.tropt_tracker_free.restype = None
_lib.tropt_error_message.argtypes = []
_lib.tropt_error_message.restype = ctypes.c_char_p
_lib.tropt_error_name.argtypes = [ctypes.c_int]
_lib.tropt_error_name.restype = ctypes.c_char_p
_lib.tropt_version.argtypes = []
_lib.tropt_version.restype = ctypes.c_char_p
# jansson, reached through libtropt's own dependency (same copy the core uses).
_lib.json_loads.argtypes = [ctypes.c_char_p, ctypes.c_size_t, _vp]
_lib.json_loads.restype = _vp
_lib.json_delete.argtypes = [_vp]
_lib.json_delete.restype = None

_log_fields = _lib.tropt_tracker_log_fields

__version__ = _lib.tropt_version().decode()

# ---- C diagnostics -> logging ---------------------------------------------

_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}
_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, _vp)


def _on_c_log(level, message, _userdata):
    try:
        logger.log(_LEVELS.get(level, logging.ERROR), "%s",
                   (message or b"").decode("utf-8", "replace"))
    except BaseException:  # an exception must never unwind into C
        pass


_c_log_handler = _LOG_FN(_on_c_log)  # module global: lives as long as the module
_lib.tropt_set_log_handler.argtypes = [_LOG_FN, _vp]
_lib.tropt_set_log_handler.restype = None
_lib.tropt_set_log_handler(_c_log_handler, None)


# ---- errors -----------------------------------------------------------------

class TrackerError(Exception):
    """A failure reported by libtropt: `code` (negative int), `name`
    ("TROPT_EBACKEND", ...) and `message` (the library's text)."""

    def __init__(self, code, name, message):
        super().__init__(f"{name}: {message}")
        self.code = code
        self.name = name
        self.message = message


def _raise(rc):
    message = _lib.tropt_error_message().decode("utf-8", "replace")
    if rc == _ESTATE and message.startswith("log() called on inactive tracker"):
        raise AssertionError(message)
    raise TrackerError(rc, _lib.tropt_error_name(rc).decode(), message)


# ---- values ----------------------------------------------------------------

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _plain(key, v):
    """v as a JSON-able plain Python value (for config, summary and lists)."""
    t = type(v)
    if t is float or t is str or v is None or t is bool:
        return v
    if t is int:
        if _INT64_MIN <= v <= _INT64_MAX:
            return v
        raise ValueError(f"tropt_tracker: value of {key!r} does not fit in 64 bits: {v}")
    if t is dict:
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"tropt_tracker: key {k!r} under {key!r} is not a str")
            out[k] = _plain(f"{key}/{k}" if key else k, x)
        return out
    if t is list or t is tuple:
        return [_plain(key, x) for x in v]
    return _plain(key, _coerce(key, v))


def _coerce(key, v):
    """A value of another type as bool/int/float/str/list/dict, or TypeError."""
    if hasattr(v, "tolist") and hasattr(v, "dtype"):  # numpy scalar or array
        return v.tolist()
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, (list, tuple)):
        return list(v)
    if hasattr(type(v), "__index__"):
        return int(v.__index__())
    if hasattr(type(v), "__float__"):
        return float(v)
    raise TypeError(f"tropt_tracker: value of {key!r} has unsupported type "
                    f"{type(v).__name__}")


def _to_json(key, v):
    """A new jansson value (caller frees with json_delete) for list or dict v."""
    try:
        text = json.dumps(v, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        raise ValueError(f"tropt_tracker: {key!r} holds NaN or Inf inside a list or "
                         "config, which JSON cannot carry (log it as a top-level value)") from None
    j = _lib.json_loads(text.encode("utf-8"), 0, None)
    if not j:  # jansson refuses a NUL character inside a string
        raise ValueError(f"tropt_tracker: {key!r} could not be converted to JSON "
                         "(a NUL character in a string?)")
    return j


def _object(what, d):
    """None or a new jansson object for a config/summary dict."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise TypeError(f"tropt_tracker: {what} must be a dict or None, not {type(d).__name__}")
    return _to_json(what, _plain("", d))


# Field layout (struct tropt_field on LP64): key pointer, int type, pad, 8-byte union.
_FIELD_SIZE = ctypes.sizeof(ctypes.c_void_p) + 4 + 4 + 8
assert struct.calcsize("@Pi4xd") == _FIELD_SIZE
_pack_into = struct.pack_into
_S_REAL = struct.Struct("@Pi4xd").pack_into
_S_INT = struct.Struct("@Pi4xq").pack_into
_S_BOOL = struct.Struct("@Pi4xi4x").pack_into
_S_PTR = struct.Struct("@Pi4xP").pack_into
_S_NULL = struct.Struct("@Pi4x8x").pack_into

# Address of a bytes object's characters: CPython keeps them inline at a fixed
# offset; checked once against ctypes (falls back to ctypes when it differs).
_BYTES_OFF = bytes.__basicsize__ - 1
_probe = b"tropt-probe"
if id(_probe) + _BYTES_OFF == ctypes.cast(_probe, _vp).value:
    def _addr(b, _off=_BYTES_OFF):
        return id(b) + _off
else:  # pragma: no cover - other Python implementations
    def _addr(b):
        return ctypes.cast(b, _vp).value
del _probe

_keys = {}  # str key -> (bytes, address); the bytes live in this cache
_KEYS_MAX = 65536


def _key(k):
    e = _keys.get(k)
    if e is None:
        if type(k) is not str and not isinstance(k, str):
            raise TypeError(f"tropt_tracker: key {k!r} is not a str")
        if "\x00" in k:
            raise ValueError(f"tropt_tracker: key {k!r} holds a NUL character")
        b = str(k).encode("utf-8")
        e = (b, _addr(b))
        if len(_keys) < _KEYS_MAX:
            _keys[k] = e
    return e


_FAST = {float: ("d", _REAL), int: ("q", _INT), bool: ("i4x", _BOOL)}


class _Buffer(threading.local):
    """Per-thread field array (C reads it while the GIL is released, so it
    cannot be shared between threads) and the shape of the last step."""

    def __init__(self):
        self.cap = 0
        self.buf = None
        self.addr = 0
        self.keys = None
        self.types = None

    def learn(self, keys, types):
        """Prepare the fast path for steps with these keys and value types."""
        self.keys = None
        if not keys or len(keys) > 256 or any(t not in _FAST for t in types):
            return
        fmt = "@"
        args = []
        keep = []
        for k, t in zip(keys, types):
            if not isinstance(k, str):
                return
            kb, ka = _key(k)
            keep.append(kb)
            code, tag = _FAST[t]
            fmt += "Pi4x" + code
            args += [ka, tag, None]
        self.ensure(len(keys))
        self.pack = struct.Struct(fmt).pack_into
        self.args = args
        self.keep = keep  # the key bytes the prepared addresses point into
        self.n = len(keys)
        self.keys = keys
        self.types = types

    def ensure(self, n):
        if n > self.cap:
            self.cap = max(n, 2 * self.cap, 16)
            self.buf = ctypes.create_string_buffer(self.cap * _FIELD_SIZE)
            self.addr = ctypes.addressof(self.buf)
        return self.buf


_tls = _Buffer()


def _fill(buf, n, prefix, data, keep, jsons):
    """Write the fields of dict `data` (flattened under prefix) into buf from
    index n on; returns the new count.  Bytes and jansson values that must
    outlive the C call go to `keep` and `jsons`."""
    for k, v in data.items():
        if prefix is None:
            kb, ka = _key(k)
            name = k
        else:
            if not isinstance(k, str):
                raise TypeError(f"tropt_tracker: key {k!r} under {prefix!r} is not a str")
            name = prefix + "/" + k
            kb, ka = _key(name)
            keep.append(kb)
        if (n + 1) * _FIELD_SIZE > len(buf):
            raise _Grow()
        off = n * _FIELD_SIZE
        t = type(v)
        while True:
            if t is float:
                _S_REAL(buf, off, ka, _REAL, v)
            elif t is int:
                if not _INT64_MIN <= v <= _INT64_MAX:
                    raise ValueError(f"tropt_tracker: value of {name!r} does not fit "
                                     f"in 64 bits: {v}")
                _S_INT(buf, off, ka, _INT, v)
            elif t is bool:
                _S_BOOL(buf, off, ka, _BOOL, 1 if v else 0)
            elif t is str:
                if "\x00" in v:
                    raise ValueError(f"tropt_tracker: value of {name!r} holds a NUL character")
                sb = v.encode("utf-8")
                keep.append(sb)
                _S_PTR(buf, off, ka, _STRING, _addr(sb))
            elif v is None:
                _S_NULL(buf, off, ka, _NULL)
            elif t is dict and v:
                n = _fill(buf, n, name, v, keep, jsons)
                break
            elif t is dict or t is list or t is tuple:
                j = _to_json(name, _plain(name, v))
                jsons.append(j)
                _S_PTR(buf, off, ka, _JSON, j)
            else:
                v = _coerce(name, v)
                t = type(v)
                continue
            n += 1
            break
    return n


class _Grow(Exception):
    pass


# ---- the tracker -------------------------------------------------------------

_live = weakref.WeakSet()


class Tracker:
    """A tracker over one or more libtropt backends, with the state machine
    of tropt's reference BaseTracker (see SPEC section 13)."""

    def __init__(self, spec=None, experiment_name="tropt_experiment", experiment_config=None):
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
        cfg = _object("experiment_config", experiment_config)
        if cfg:
            _lib.json_delete(cfg)
        h = _vp()
        rc = _lib.tropt_tracker_open(ctypes.byref(h), None if spec is None else spec.encode(),
                                     experiment_name.encode(), None)
        if rc != 0:
            _raise(rc)
        self._h = h.value
        _live.add(self)

    def _handle(self):
        if self._h is None:
            raise TrackerError(_ESTATE, "TROPT_ESTATE", "the tracker is closed")
        return self._h

    @property
    def active(self):
        """True while a run is open (between init and finish)."""
        h = self._h
        return bool(h is not None and _lib.tropt_tracker_is_active(h))

    @property
    def run_id(self):
        """The active run's id (UUIDv7 text) or None."""
        with self._lock:
            if self._h is None:
                return None
            r = _lib.tropt_tracker_run_id(self._h)
            return r.decode() if r else None

    @property
    def closed(self):
        return self._h is None

    def init(self, config=None):
        """Open a run (auto-finishing an active one, with the reference warning)
        whose config is {**experiment_config, **config} (None when empty)."""
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"tropt_tracker: config must be a dict or None, "
                            f"not {type(config).__name__}")
        ec = self.experiment_config
        if ec is not None and not isinstance(ec, dict):
            raise TypeError("tropt_tracker: experiment_config must be a dict or None")
        j = _object("config", {**(ec or {}), **(config or {})} or None)
        try:
            with self._lock:
                rc = _lib.tropt_tracker_init(self._handle(), j)
        finally:
            if j:
                _lib.json_delete(j)
        if rc != 0:
            _raise(rc)

    def log(self, data):
        """Write one step.  AssertionError when no run is active."""
        tls = _tls
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
                        rc = _log_fields(self._handle(), tls.addr, tls.n)
                    if rc != 0:
                        _raise(rc)
                    return
        elif not isinstance(data, dict):
            raise TypeError(f"tropt_tracker: log() takes a dict, not {type(data).__name__}")
        else:
            keys = types = None
        keep = []
        jsons = []
        try:
            while True:
                buf = tls.ensure(len(data))
                try:
                    n = _fill(buf, 0, None, data, keep, jsons)
                    break
                except _Grow:
                    for j in jsons:
                        _lib.json_delete(j)
                    jsons.clear()
                    keep.clear()
                    tls.ensure(tls.cap * 2 + 1)
            with self._lock:
                rc = _log_fields(self._handle(), tls.addr, n)
        finally:
            for j in jsons:
                _lib.json_delete(j)
        if rc != 0:
            _raise(rc)
        if keys is not None and keys != tls.keys:
            tls.learn(keys, types)

    def finish(self, summary=None):
        """Close the active run, writing summary; warns and returns when inactive."""
        j = _object("summary", summary)
        try:
            with self._lock:
                rc = _lib.tropt_tracker_finish(self._handle(), j)
        finally:
            if j:
                _lib.json_delete(j)
        if rc != 0:
            _raise(rc)

    def flush(self):
        """Make everything logged so far durable in every backend."""
        with self._lock:
            rc = _lib.tropt_tracker_flush(self._handle())
        if rc != 0:
            _raise(rc)

    def close(self):
        """Free the tracker: an active run is finished as "aborted".  Idempotent."""
        with self._lock:
            h, self._h = self._h, None
            if h is not None:
                _lib.tropt_tracker_free(h)
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


# ---- reading back (the reader API of tropt/host.h) ---------------------------


class _CField(ctypes.Structure):
    class _V(ctypes.Union):
        _fields_ = [("b", ctypes.c_int), ("i", ctypes.c_int64), ("r", ctypes.c_double),
                    ("s", ctypes.c_char_p), ("json", _vp)]
    _fields_ = [("key", ctypes.c_char_p), ("type", ctypes.c_int), ("v", _V)]


class _CStoredRun(ctypes.Structure):
    _fields_ = [("run_id", ctypes.c_char_p), ("experiment", ctypes.c_char_p),
                ("status", ctypes.c_char_p), ("started_at", ctypes.c_double),
                ("ended_at", ctypes.c_double), ("host", ctypes.c_char_p),
                ("pid", ctypes.c_int64), ("n_steps", ctypes.c_int64)]


class _CEvent(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("run", ctypes.POINTER(_CStoredRun)),
                ("step", ctypes.c_int64), ("time", ctypes.c_double),
                ("status", ctypes.c_char_p), ("ended_at", ctypes.c_double),
                ("config", _vp), ("summary", _vp),
                ("fields", ctypes.POINTER(_CField)), ("n", ctypes.c_size_t)]


_RUN_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_CStoredRun), _vp)
_EVENT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_CEvent), _vp)
_lib.tropt_reader_open.argtypes = [ctypes.POINTER(_vp), ctypes.c_char_p]
_lib.tropt_reader_open.restype = ctypes.c_int
_lib.tropt_reader_list_runs.argtypes = [_vp, _RUN_FN, _vp]
_lib.tropt_reader_list_runs.restype = ctypes.c_int
_lib.tropt_reader_read_run.argtypes = [_vp, ctypes.c_char_p, _EVENT_FN, _vp]
_lib.tropt_reader_read_run.restype = ctypes.c_int
_lib.tropt_reader_free.argtypes = [_vp]
_lib.tropt_reader_free.restype = None
_lib.json_dumps.argtypes = [_vp, ctypes.c_size_t]
_lib.json_dumps.restype = _vp
_lib.free.argtypes = [_vp]
_lib.free.restype = None
_JSON_ENCODE_ANY = 0x200


def _text(b):
    return None if b is None else b.decode("utf-8", "replace")


def _json_value(ptr):
    """A borrowed json_t* as a Python value (None for NULL)."""
    if not ptr:
        return None
    out = _lib.json_dumps(ptr, _JSON_ENCODE_ANY)
    if not out:
        raise MemoryError("tropt_tracker: json_dumps failed")
    try:
        return json.loads(ctypes.string_at(out).decode("utf-8"))
    finally:
        _lib.free(out)


def _field_value(f):
    t = f.type
    if t == _NULL:
        return None
    if t == _BOOL:
        return bool(f.v.b)
    if t == _INT:
        return f.v.i
    if t == _REAL:
        return f.v.r
    if t == _STRING:
        return _text(f.v.s)
    return _json_value(f.v.json)


def _stored_run(r):
    return {"run_id": _text(r.run_id), "experiment": _text(r.experiment),
            "status": _text(r.status), "started_at": r.started_at,
            "ended_at": None if r.ended_at != r.ended_at else r.ended_at,
            "host": _text(r.host), "pid": r.pid,
            "n_steps": None if r.n_steps < 0 else r.n_steps}


class _Reader:
    def __init__(self, spec):
        if not isinstance(spec, str):
            raise TypeError("tropt_tracker: spec must be a str, e.g. 'sqlite:path=runs.db'")
        if "\0" in spec:
            raise ValueError("tropt_tracker: spec contains a NUL character")
        self.h = _vp()
        rc = _lib.tropt_reader_open(ctypes.byref(self.h), spec.encode())
        if rc:
            _raise(rc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.tropt_reader_free(self.h)
        self.h = _vp()


def _walk(call, make_cb, args):
    """Run a reader walk whose Python callback may raise: the exception stops
    the walk (never unwinds into C) and is raised here."""
    failure = []

    def guarded(*a):
        try:
            make_cb(*a)
            return 0
        except BaseException as e:  # stop the walk, re-raise below
            failure.append(e)
            return 1

    rc = call(*args(guarded))
    if failure:
        raise failure[0]
    if rc:
        _raise(rc)


def runs(spec):
    """The runs a backend stores, oldest first: a list of dicts with run_id,
    experiment, status ("running", "finished", "aborted", "crashed"),
    started_at, ended_at (None while running), host, pid and n_steps (None
    when the backend cannot tell without reading the run).  spec names one
    backend, as it was written: "sqlite:path=runs.db", "csv:dir=logs",
    "jsonl:path=run.jsonl".  Raises TrackerError when the store cannot be
    read (the message names the path)."""
    out = []
    with _Reader(spec) as r:
        _walk(_lib.tropt_reader_list_runs,
              lambda p, _ud: out.append(_stored_run(p.contents)),
              lambda cb: (r.h, _RUN_FN(cb), None))
    return out


def read_run(spec, run_id):
    """One stored run: a dict with "run" (as runs() gives it), "config"
    (dict or None), "steps" (a list of {"step", "time", "data"} in step
    order, data flattened as it was logged: "a/b" keys) and, once the run
    ended, "status", "ended_at" and "summary".  run_id is a full id or a
    unique prefix of at least 8 characters.  Values come back as the
    backend stores them (jsonl: exactly as logged; see the README for
    sqlite and csv)."""
    if not isinstance(run_id, str):
        raise TypeError("tropt_tracker: run_id must be a str")
    result = {"run": None, "config": None, "steps": [], "status": None, "ended_at": None,
              "summary": None}

    def on_event(p, _ud):
        e = p.contents
        if result["run"] is None and e.run:
            result["run"] = _stored_run(e.run.contents)
        if e.kind == 1:
            result["config"] = _json_value(e.config)
        elif e.kind == 2:
            result["steps"].append({"step": e.step, "time": e.time,
                                    "data": {_text(e.fields[i].key): _field_value(e.fields[i])
                                             for i in range(e.n)}})
        elif e.kind == 3:
            result["status"] = _text(e.status)
            result["ended_at"] = e.ended_at
            result["summary"] = _json_value(e.summary)

    with _Reader(spec) as r:
        _walk(_lib.tropt_reader_read_run, on_event,
              lambda cb: (r.h, run_id.encode(), _EVENT_FN(cb), None))
    return result


def _shutdown():
    # Stop every backend (and its threads) while Python can still run the log
    # callback, then hand diagnostics back to the C default handler.  Every
    # active run is finished "aborted" (SPEC 18).
    for t in list(_live):
        try:
            t.close()
        except Exception:
            pass
    _lib.tropt_set_log_handler(_LOG_FN(), None)


atexit.register(_shutdown)

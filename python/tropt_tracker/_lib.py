"""Loading libtropt and declaring the C functions the package calls.

The library is found through $TROPT_LIBRARY (a path to libtropt.so), else
the path `meson install` recorded in _config.py, else the system's library
search path.  ctypes.CDLL releases the GIL around every call.
"""
import ctypes
import os
import struct

# tropt_type (SPEC 3)
NULL, BOOL, INT, REAL, STRING, JSON = range(6)
# tropt_error codes this package tests for
ESTATE = -4

vp = ctypes.c_void_p


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
lib = ctypes.CDLL(library_path)


def _proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.argtypes = list(argtypes)
    fn.restype = restype
    return fn


_int, _i64, _dbl, _str, _size = (ctypes.c_int, ctypes.c_int64, ctypes.c_double,
                                  ctypes.c_char_p, ctypes.c_size_t)

# ---- the tracker (tropt/tracker.h) ----
tracker_open = _proto("tropt_tracker_open", _int, ctypes.POINTER(vp), _str, _str, vp)
tracker_init = _proto("tropt_tracker_init", _int, vp, vp)
tracker_log_fields_at = _proto("tropt_tracker_log_fields_at", _int, vp, _i64, _dbl, vp, _size)
tracker_finish = _proto("tropt_tracker_finish", _int, vp, vp)
tracker_finish_run = _proto("tropt_tracker_finish_run", _int, vp, _str, _dbl, vp)
tracker_flush = _proto("tropt_tracker_flush", _int, vp)
# run identity, resume, checkpoint marks (SPEC 14-16, ABI 1.2)
tracker_set_run_name = _proto("tropt_tracker_set_run_name", _int, vp, _str)
tracker_run_name = _proto("tropt_tracker_run_name", _str, vp)
tracker_tag = _proto("tropt_tracker_tag", _int, vp, _str)
tracker_set_option = _proto("tropt_tracker_set_option", _int, vp, _str, _str)
tracker_checkpoint = _proto("tropt_tracker_checkpoint", _int, vp, _str)
tracker_run_id = _proto("tropt_tracker_run_id", _str, vp)
tracker_free = _proto("tropt_tracker_free", None, vp)
error_message = _proto("tropt_error_message", _str)
error_name = _proto("tropt_error_name", _str, _int)
version = _proto("tropt_version", _str)().decode()

# ---- diagnostics ----
LOG_FN = ctypes.CFUNCTYPE(None, _int, _str, vp)
set_log_handler = _proto("tropt_set_log_handler", None, LOG_FN, vp)

# ---- jansson, reached through libtropt's own dependency (the core's copy) ----
json_loads = _proto("json_loads", vp, _str, _size, vp)
json_dumps = _proto("json_dumps", vp, vp, _size)
json_delete = _proto("json_delete", None, vp)
JSON_ENCODE_ANY = 0x200
free = _proto("free", None, vp)


# ---- the reader (tropt/host.h, tropt/plugin.h) ----
class CField(ctypes.Structure):
    class _V(ctypes.Union):
        _fields_ = [("b", _int), ("i", _i64), ("r", _dbl), ("s", _str), ("json", vp)]
    _fields_ = [("key", _str), ("type", _int), ("v", _V)]


class CStoredRun(ctypes.Structure):
    # The members after n_steps are ABI 1.2's, which tropt_reader_* always fill.
    _fields_ = [("run_id", _str), ("experiment", _str), ("status", _str),
                ("started_at", _dbl), ("ended_at", _dbl), ("host", _str),
                ("pid", _i64), ("n_steps", _i64),
                ("name", _str), ("tags", ctypes.POINTER(_str)), ("n_tags", _size),
                ("note", _str), ("attempts", _i64), ("last_step", _i64),
                ("checkpoint_step", _i64), ("resume_key", _str), ("pidns", _str),
                ("heartbeat_age", _dbl), ("stale_after", _dbl), ("provenance", vp)]


class CEvent(ctypes.Structure):
    _fields_ = [("kind", _int), ("run", ctypes.POINTER(CStoredRun)), ("step", _i64),
                ("time", _dbl), ("status", _str), ("ended_at", _dbl), ("config", vp),
                ("summary", vp), ("fields", ctypes.POINTER(CField)), ("n", _size)]


EVENT_START, EVENT_STEP, EVENT_END = 1, 2, 3
RUN_FN = ctypes.CFUNCTYPE(_int, ctypes.POINTER(CStoredRun), vp)
EVENT_FN = ctypes.CFUNCTYPE(_int, ctypes.POINTER(CEvent), vp)
reader_open = _proto("tropt_reader_open", _int, ctypes.POINTER(vp), _str)
reader_list_runs = _proto("tropt_reader_list_runs", _int, vp, RUN_FN, vp)
reader_read_run = _proto("tropt_reader_read_run", _int, vp, _str, EVENT_FN, vp)
reader_resolve = _proto("tropt_reader_resolve", _int, vp, _str, ctypes.c_char_p)
reader_free = _proto("tropt_reader_free", None, vp)

# struct tropt_field on LP64: key pointer, int type, 4 bytes of padding, an
# 8-byte union; checked against the ctypes layout above.
FIELD_SIZE = ctypes.sizeof(CField)
assert struct.calcsize("@Pi4xd") == FIELD_SIZE

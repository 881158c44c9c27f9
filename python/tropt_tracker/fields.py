"""Steps as arrays of struct tropt_field, the typed form libtropt logs
without building JSON (tropt_tracker_log_fields_at).

A Buffer holds one array and the shape of the last step written into it.
Each thread keeps one spare Buffer (_tls.b): a log() takes it for
the whole call, so a log() nested in another on the same thread (a
__float__ that logs, a signal handler) finds none and uses a Buffer of its
own instead of overwriting the outer step's fields.  Whatever the C call
reads (key and string bytes, jansson values) is kept alive by the Buffer or
by the call's `keep` list until the call returns.
"""
import ctypes
import struct
import threading

from . import _lib
from .values import INT64_MAX, INT64_MIN, coerce, plain, to_json

_SIZE = _lib.FIELD_SIZE
_S_REAL = struct.Struct("@Pi4xd").pack_into
_S_INT = struct.Struct("@Pi4xq").pack_into
_S_BOOL = struct.Struct("@Pi4xi4x").pack_into
_S_PTR = struct.Struct("@Pi4xP").pack_into
_S_NULL = struct.Struct("@Pi4x8x").pack_into

# Address of a bytes object's characters: CPython keeps them inline at a
# fixed offset; checked once against ctypes (else ctypes computes it).
_BYTES_OFF = bytes.__basicsize__ - 1
_probe = b"tropt-probe"
if id(_probe) + _BYTES_OFF == ctypes.cast(_probe, _lib.vp).value:
    def addr(b, _off=_BYTES_OFF):
        return id(b) + _off
else:  # pragma: no cover - other Python implementations
    def addr(b):
        return ctypes.cast(b, _lib.vp).value
del _probe

# str key -> (bytes, address).  The cache owns the bytes of the keys it
# holds; a key met after it is full is encoded per call, and the call's
# `keep` list holds its bytes until C has read them.
_keys = {}
KEYS_MAX = 65536


def key(k):
    e = _keys.get(k)
    if e is None:
        if not isinstance(k, str):
            raise TypeError(f"tropt_tracker: key {k!r} is not a str")
        if "\x00" in k:
            raise ValueError(f"tropt_tracker: key {k!r} holds a NUL character")
        b = str(k).encode("utf-8")
        e = (b, addr(b))
        if len(_keys) < KEYS_MAX:
            _keys[k] = e
    return e


# Values the prepared path packs directly (struct code, tropt_type); str is
# packed as the address of its UTF-8 bytes.
_FAST = {float: ("d", _lib.REAL), int: ("q", _lib.INT), bool: ("i4x", _lib.BOOL),
         str: ("P", _lib.STRING)}
_STR = object()  # marks a str position in Buffer.conv


class Grow(Exception):
    """The array is too small for the step: grow it and start again."""


class Buffer:
    """A field array and the prepared shape of the last step written."""

    __slots__ = ("cap", "buf", "addr", "keys", "types", "pack", "args", "n", "keep", "conv")

    def __init__(self):
        self.cap = 0
        self.buf = None
        self.addr = 0
        self.keys = None
        self.types = None
        self.pack = None

    def ensure(self, n):
        """The array, with room for at least n fields."""
        if n > self.cap:
            self.cap = max(n, 2 * self.cap, 16)
            self.buf = ctypes.create_string_buffer(self.cap * _SIZE)
            self.addr = ctypes.addressof(self.buf)
        return self.buf

    def learn(self, keys, values):
        """Prepare the fast path for steps with these top-level keys whose
        values have these types: float, int, bool, str, or a type whose
        .tolist()/.item() gave one of the first three.  A shape that does
        not fit is remembered with pack None, so that it is not tried
        again at every step."""
        self.keys = keys
        self.types = tuple(map(type, values))
        self.pack = None
        if not keys or len(keys) > 256:
            return
        fmt = "@"
        args = []
        keep = []
        conv = []
        for i, (k, v) in enumerate(zip(keys, values)):
            t = type(v)
            if t not in _FAST:
                how = _method(v)
                if how is None:
                    return
                conv.append((i, how, type(getattr(v, how)())))
                t = conv[-1][2]
                if t not in _FAST or t is str:
                    return
            elif t is str:
                conv.append((i, _STR, str))
            kb, ka = key(k)
            keep.append(kb)
            code, tag = _FAST[t]
            fmt += "Pi4x" + code
            args += [ka, tag, None]
        self.ensure(len(keys))
        self.args = args
        self.keep = keep  # the key bytes the prepared addresses point into
        self.conv = tuple(conv)
        self.n = len(keys)
        self.pack = struct.Struct(fmt).pack_into


def _method(v):
    for how in ("tolist", "item"):
        if callable(getattr(v, how, None)):
            return how
    return None


def convert(conv, vals, keep):
    """Replace, in vals, the values the prepared shape converts: a str by
    the address of its bytes (kept in keep), a tensor-like by what its
    method gives.  False when a value does not fit the shape (the general
    path then takes the step)."""
    for i, how, want in conv:
        v = vals[i]
        if how is _STR:
            if "\x00" in v:
                return False
            b = v.encode("utf-8")
            keep.append(b)
            vals[i] = addr(b)
        else:
            r = getattr(v, how)()
            if type(r) is not want:
                return False
            vals[i] = r
    return True


class _Spare(threading.local):
    """This thread's spare Buffer in `b`: a call takes it (setting b to
    None) and gives it back when C no longer reads it; a call that finds
    None uses a new Buffer."""

    def __init__(self):
        self.b = None


_tls = _Spare()


def fill(buf, n, prefix, data, keep, jsons):
    """Write the fields of dict `data` (flattened under prefix) into buf from
    index n on; returns the new count.  Bytes and jansson values that must
    outlive the C call go to `keep` and `jsons` (the caller frees jsons).
    Raises Grow when buf is too small."""
    for k, v in data.items():
        if prefix is None:
            name = k
        else:
            if not isinstance(k, str):
                raise TypeError(f"tropt_tracker: key {k!r} under {prefix!r} is not a str")
            name = prefix + "/" + k
        kb, ka = key(name)
        keep.append(kb)
        if (n + 1) * _SIZE > len(buf):
            raise Grow()
        n = _fill_value(buf, n, name, ka, v, keep, jsons)
    return n


def _fill_value(buf, n, name, ka, v, keep, jsons):
    off = n * _SIZE
    t = type(v)
    if t not in _FAST and v is not None and t is not dict and t is not list and t is not tuple:
        v = coerce(name, v)
        t = type(v)
    if t is float:
        _S_REAL(buf, off, ka, _lib.REAL, v)
    elif t is int:
        if not INT64_MIN <= v <= INT64_MAX:
            raise ValueError(f"tropt_tracker: value of {name!r} does not fit in 64 bits: {v}")
        _S_INT(buf, off, ka, _lib.INT, v)
    elif t is bool:
        _S_BOOL(buf, off, ka, _lib.BOOL, 1 if v else 0)
    elif t is str:
        if "\x00" in v:
            raise ValueError(f"tropt_tracker: value of {name!r} holds a NUL character")
        sb = v.encode("utf-8")
        keep.append(sb)
        _S_PTR(buf, off, ka, _lib.STRING, addr(sb))
    elif v is None:
        _S_NULL(buf, off, ka, _lib.NULL)
    elif t is dict and v:
        return fill(buf, n, name, v, keep, jsons)
    else:  # an empty dict, a list or a tuple: JSON kept whole
        j = to_json(name, plain(name, v))
        jsons.append(j)
        _S_PTR(buf, off, ka, _lib.JSON, j)
    return n + 1


def write(b, data, keep, jsons):
    """Write dict `data` into Buffer b through the general path, growing it
    as needed; returns the number of fields."""
    while True:
        buf = b.ensure(len(data))
        try:
            return fill(buf, 0, None, data, keep, jsons)
        except Grow:
            for j in jsons:
                _lib.json_delete(j)
            jsons.clear()
            keep.clear()
            b.ensure(b.cap * 2 + 1)

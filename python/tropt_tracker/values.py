"""Python values as the values libtropt logs (SPEC 13, 18).

bool, int (int64), float, str and None are kept as they are; dict, list and
tuple are walked; anything else is coerced once, in this order: a str or
bool subclass as str or bool; an object with .tolist() (numpy arrays and
scalars, tensors of any library) as what that returns; with .item() (a
scalar tensor) as that number; a dict/list/tuple subclass as its plain
type; an object with __index__ as int, with __float__ as float.  The
library of such a value is never imported.  What a coercion gives must be
a plain value (a list may hold more values to coerce); anything else is a
TypeError naming the key.
"""
import json

from . import _lib

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

# The types a coercion may produce at the top of a value.
_PLAIN = (bool, int, float, str, type(None), list, tuple, dict)
_NOT_PLAIN = object()


def check_int(key, v):
    if not INT64_MIN <= v <= INT64_MAX:
        raise ValueError(f"tropt_tracker: value of {key!r} does not fit in 64 bits: {v}")
    return v


def _convert(key, v, how):
    try:
        r = getattr(v, how)()
    except (TypeError, ValueError) as e:
        raise TypeError(f"tropt_tracker: value of {key!r} ({type(v).__name__}) could not be "
                        f"converted with .{how}(): {e}") from None
    return r if type(r) in _PLAIN else _NOT_PLAIN


def coerce(key, v):
    """v (of a type not in _PLAIN) as a plain value, or TypeError."""
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bool):
        return bool(v)
    for how in ("tolist", "item"):
        if callable(getattr(v, how, None)):
            r = _convert(key, v, how)
            if r is not _NOT_PLAIN:
                return r
            # e.g. numpy.longdouble: .tolist() gives the same type back
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, (list, tuple)):
        return list(v)
    if hasattr(type(v), "__index__"):
        return int(v.__index__())
    if hasattr(type(v), "__float__"):
        return float(v)
    raise TypeError(f"tropt_tracker: value of {key!r} has unsupported type {type(v).__name__}")


def plain(key, v):
    """v as a JSON-able plain Python value (config, summary, list items)."""
    t = type(v)
    if t is float or t is str or v is None or t is bool:
        return v
    if t is int:
        return check_int(key, v)
    if t is dict:
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                raise TypeError(f"tropt_tracker: key {k!r} under {key!r} is not a str")
            out[k] = plain(f"{key}/{k}" if key else k, x)
        return out
    if t is list or t is tuple:
        return [plain(key, x) for x in v]
    return plain(key, coerce(key, v))


def to_json(key, v):
    """A new jansson value (the caller frees it with _lib.json_delete) for a
    plain list or dict v."""
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


def json_object(what, d):
    """None, or a new jansson object (freed with _lib.json_delete) for the
    config or summary dict d."""
    if d is None:
        return None
    if not isinstance(d, dict):
        raise TypeError(f"tropt_tracker: {what} must be a dict or None, not {type(d).__name__}")
    return to_json(what, plain("", d))

"""Python values as the values libtropt logs (SPEC 13): bool, int (int64),
float, str and None as they are; dict, list and tuple walked; numpy values
through .tolist(); objects with __index__ or __float__ as int or float;
anything else a TypeError naming the key."""
import json

from . import _lib

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def plain(key, v):
    """v as a JSON-able plain Python value (config, summary, list items)."""
    t = type(v)
    if t is float or t is str or v is None or t is bool:
        return v
    if t is int:
        if INT64_MIN <= v <= INT64_MAX:
            return v
        raise ValueError(f"tropt_tracker: value of {key!r} does not fit in 64 bits: {v}")
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


def coerce(key, v):
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
    raise TypeError(f"tropt_tracker: value of {key!r} has unsupported type {type(v).__name__}")


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

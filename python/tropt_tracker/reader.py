"""Reading runs back through libtropt's reader API (tropt/host.h): the
stored runs of any backend with reader hooks, as plain Python values."""
import ctypes
import json

from . import _lib, errors, logbridge


def _text(b):
    return None if b is None else b.decode("utf-8", "replace")


def _json_value(ptr):
    """A borrowed json_t* as a Python value (None for NULL)."""
    if not ptr:
        return None
    out = _lib.json_dumps(ptr, _lib.JSON_ENCODE_ANY)
    if not out:
        raise MemoryError("tropt_tracker: json_dumps failed")
    try:
        return json.loads(ctypes.string_at(out).decode("utf-8"))
    finally:
        _lib.free(out)


def _field_value(f):
    t = f.type
    if t == _lib.NULL:
        return None
    if t == _lib.BOOL:
        return bool(f.v.b)
    if t == _lib.INT:
        return f.v.i
    if t == _lib.REAL:
        return f.v.r
    if t == _lib.STRING:
        return _text(f.v.s)
    return _json_value(f.v.json)


def _stored_run(r):
    return {"run_id": _text(r.run_id), "name": _text(r.name), "experiment": _text(r.experiment),
            "status": _text(r.status), "started_at": r.started_at,
            "ended_at": None if r.ended_at != r.ended_at else r.ended_at,
            "host": _text(r.host), "pid": r.pid,
            "n_steps": None if r.n_steps < 0 else r.n_steps,
            "tags": [_text(r.tags[i]) for i in range(r.n_tags)], "note": _text(r.note),
            "attempts": r.attempts, "last_step": None if r.last_step < 0 else r.last_step,
            "checkpoint_step": None if r.checkpoint_step < 0 else r.checkpoint_step,
            "resume_key": _text(r.resume_key)}


class _Reader:
    def __init__(self, spec):
        if not isinstance(spec, str):
            raise TypeError("tropt_tracker: spec must be a str, e.g. 'sqlite:path=runs.db'")
        if "\0" in spec:
            raise ValueError("tropt_tracker: spec contains a NUL character")
        self.h = _lib.vp()
        errors.check(_lib.reader_open(ctypes.byref(self.h), spec.encode()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _lib.reader_free(self.h)
        self.h = _lib.vp()


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
    err = errors.error(rc) if rc else None
    if logbridge.pending:  # Ctrl-C while the reader warned
        logbridge.reraise_pending()
    if failure:
        raise failure[0]
    if err is not None:
        raise err


def runs(spec):
    """The runs a backend stores, oldest first: a list of dicts with run_id,
    name (the stored name, else one the library derives from the id),
    experiment, status ("running", "finished", "aborted", "crashed"),
    started_at, ended_at (None while running), host, pid, n_steps (None
    when the backend cannot tell without reading the run), tags (a list),
    note, attempts, last_step, checkpoint_step (None: none) and
    resume_key.  spec names one
    backend, as it was written: "sqlite:path=runs.db", "csv:dir=logs",
    "jsonl:path=run.jsonl".  Raises TrackerError when the store cannot be
    read (the message names the path)."""
    out = []
    with _Reader(spec) as r:
        _walk(_lib.reader_list_runs,
              lambda p, _ud: out.append(_stored_run(p.contents)),
              lambda cb: (r.h, _lib.RUN_FN(cb), None))
    return out


def read_run(spec, run_id):
    """One stored run: a dict with "run" (as runs() gives it), "config"
    (dict or None), "steps" (a list of {"step", "time", "data"} in step
    order, data flattened as it was logged: "a/b" keys) and, once the run
    ended, "status", "ended_at" and "summary".  run_id is a full id, a
    unique prefix of at least 8 characters, or a run's name (an ambiguous
    one raises TrackerError listing the candidates).  Values come back as the
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
        if e.kind == _lib.EVENT_START:
            result["config"] = _json_value(e.config)
        elif e.kind == _lib.EVENT_STEP:
            result["steps"].append({"step": e.step, "time": e.time,
                                    "data": {_text(e.fields[i].key): _field_value(e.fields[i])
                                             for i in range(e.n)}})
        elif e.kind == _lib.EVENT_END:
            result["status"] = _text(e.status)
            result["ended_at"] = e.ended_at
            result["summary"] = _json_value(e.summary)

    if "\0" in run_id:
        raise ValueError("tropt_tracker: run_id contains a NUL character")
    with _Reader(spec) as r:
        full = ctypes.create_string_buffer(37)
        errors.check(_lib.reader_resolve(r.h, run_id.encode(), full))
        _walk(_lib.reader_read_run, on_event,
              lambda cb: (r.h, full.value, _lib.EVENT_FN(cb), None))
    return result

"""frame(): the metrics of stored runs as a pandas DataFrame.

pandas is imported when frame() is called, never by `import tropt_tracker`.
"""
import math

from .reader import read_run, runs

META = ("run_id", "run_name", "step", "time")


def _pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError("tropt_tracker.frame() needs pandas, which is not installed for "
                          "this Python (Debian: apt install python3-pandas; else pip install "
                          "pandas)") from None
    return pandas


def _merged_steps(run):
    """{step: [time, data]} of a read_run() result, fields logged again at a
    step merged into it: a later value of a key wins, and the step's time is
    its last log's, as sqlite keeps them (jsonl and csv yield each log)."""
    out = {}
    for st in run["steps"]:
        got = out.get(st["step"])
        if got is None:
            out[st["step"]] = [st["time"], dict(st["data"])]
        else:
            got[0] = st["time"]
            got[1].update(st["data"])
    return out


def _column_names(keys):
    """Column name of each key: the key, or (a key equal to one of the META
    columns) the key with '_' before it until it is unique."""
    taken = set(META) | set(keys)
    names = {}
    for k in keys:
        if k in META:
            name = "_" + k
            while name in taken:
                name = "_" + name
            taken.add(name)
            names[k] = name
        else:
            names[k] = k
    return names


def _column(pd, values):
    """A pandas array for one key's values (None where a step lacks it),
    typed by what was logged: int64/Int64, float64 (NaN where missing),
    bool/boolean, else object."""
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    missing = len(present) < len(values)
    if kinds == {bool}:
        return pd.array(values, dtype="boolean") if missing else pd.array(values, dtype=bool)
    if kinds == {int}:
        return pd.array(values, dtype="Int64") if missing else pd.array(values, dtype="int64")
    if kinds and kinds <= {int, float} and all(type(v) is float or abs(v) <= 1 << 53
                                               for v in present):
        return pd.array([math.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.array(values, dtype=object)


def frame(spec, run=None, keys=None):
    """The metrics of the runs in the store `spec` (or of the one run `run`:
    an id, a unique prefix of 8+ characters or its name) as a pandas
    DataFrame: one
    row per step of each run, oldest run first and steps in order, with the
    columns run_id, run_name, step, time, then one per logged key (sorted;
    not for a key that only ever held None, which csv does not store), or
    only the `keys` given (a list of keys or one key), in that order,
    keeping the steps that hold one of them.  A step logged more than once
    is one row (its fields merged).  A column has the type of its values:
    int64 (Int64 when some steps lack the key), float64 (NaN where
    missing), bool, else object.  A logged key named like one of the first
    four columns comes out with '_' before it.  run_name is the run's name
    (the library derives one from the id where the store keeps none).
    Raises ImportError when pandas is missing, TrackerError when the store
    or the run cannot be read."""
    pd = _pandas()
    if isinstance(keys, str):
        keys = [keys]
    elif keys is not None:
        keys = list(keys)
        if not all(isinstance(k, str) for k in keys):
            raise TypeError("tropt_tracker: keys must be a str or a list of str")
    ids = [run] if run is not None else [r["run_id"] for r in runs(spec)]
    rows = []  # [run_id, name, step, time, data]
    for rid in ids:
        got = read_run(spec, rid)
        info = got["run"] or {}
        full = info.get("run_id") or rid
        name = info.get("name") or full[:8]
        for step, (time, data) in sorted(_merged_steps(got).items()):
            if keys is None or any(k in data for k in keys):
                rows.append((full, name, step, time, data))
    if keys is None:  # csv keeps no null field: a key only ever None gets no column
        keys = sorted({k for r in rows for k, v in r[4].items() if v is not None})
    names = _column_names(keys)
    cols = {"run_id": pd.array([r[0] for r in rows], dtype=object),
            "run_name": pd.array([r[1] for r in rows], dtype=object),
            "step": pd.array([r[2] for r in rows], dtype="int64"),
            "time": pd.array([r[3] for r in rows], dtype="float64")}
    for k in keys:
        cols[names[k]] = _column(pd, [r[4].get(k) for r in rows])
    return pd.DataFrame(cols)

"""tropt_tracker: the Python binding of libtropt (ctypes, standard library only).

    from tropt_tracker import Tracker, TrackerError
    t = Tracker("sqlite:path=runs.db", experiment_name="exp", experiment_config={"seed": 1})
    t.init({"lr": 0.01})
    t.log({"loss": 0.5, "acc": {"top1": 0.9}})
    t.finish({"best": 0.4})
    t.close()

The modules: _lib (loading libtropt, the C prototypes), errors
(TrackerError), values (Python values as logged values), fields (steps as
tropt_field arrays), tracker (Tracker), reader (runs, read_run), dataframe
(frame, with pandas), logbridge (C diagnostics to the `logging` logger
"tropt_tracker"), and tropt (TroptTracker, for tropt's optimizers; imported
only on demand, as it imports tropt).
"""
from . import _lib
from ._lib import library_path
from .dataframe import frame
from .errors import TrackerError
from .reader import read_run, runs
from .tracker import Tracker

__version__ = _lib.version  # libtropt's version, "MAJOR.MINOR.PATCH"

__all__ = ["Tracker", "TrackerError", "library_path", "runs", "read_run", "frame"]

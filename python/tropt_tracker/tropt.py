"""TroptTracker: libtropt's backends as a tracker of tropt's own optimizers
(SPEC 18).

    from tropt_tracker.tropt import TroptTracker
    tracker = TroptTracker("sqlite:path=runs.db", experiment_name="gcg")
    # pass it to any tropt optimizer as its tracker

A subclass of tropt.tracker.base.BaseTracker, so tropt's optimizers accept
it; importing this module imports tropt (importing tropt_tracker does not).
The base class keeps its state machine and warnings; the hooks write to a
Tracker.  A run that the next init() auto-finishes (one an exception left
active: tropt's wrapper has no try/finally) is recorded "aborted", as the C
library records every auto-finish; one still active when the interpreter
exits likewise (tropt_tracker.tracker's exit hook).
"""
try:
    from tropt.tracker import base as _base
except ImportError as e:
    raise ImportError("tropt_tracker.tropt needs the tropt package (tropt.tracker.base), "
                      f"which this Python cannot import: {e}") from e

from .tracker import Tracker

__all__ = ["TroptTracker"]

_DEFAULT = getattr(_base, "DEFAULT_EXPERIMENT_NAME", "tropt_experiment")


class TroptTracker(_base.BaseTracker):
    """TroptTracker(spec=None, experiment_name=..., experiment_config=None,
    **tracker_kwargs): a tropt tracker over the libtropt backends named by
    spec (None: $TROPT_TRACKER, else the library's default); tracker_kwargs
    go to tropt_tracker.Tracker.  Values with .item() (scalar tensors of
    any library) are logged as numbers, with .tolist() as arrays."""

    def __init__(self, spec=None, experiment_name=_DEFAULT, experiment_config=None,
                 **tracker_kwargs):
        super().__init__(experiment_name, experiment_config)
        # The base class merges experiment_config into each init's config.
        self.tracker = Tracker(spec, experiment_name=experiment_name, **tracker_kwargs)
        self._auto_finishing = False

    def init(self, config=None):
        # The base class finishes a still-active run through finish(): that
        # finish is an auto-finish, recorded "aborted".
        self._auto_finishing = self._active
        try:
            super().init(config)
        finally:
            self._auto_finishing = False

    def _init(self, config=None):
        self.tracker._init_merged(config)

    def _log(self, data):
        self.tracker.log(data)

    def _finish(self, summary=None):
        if self._auto_finishing:
            self._auto_finishing = False
            self.tracker._finish_as("aborted", summary)
        else:
            self.tracker.finish(summary)

    @property
    def run_id(self):
        """The active run's id, or None."""
        return self.tracker.run_id

    def close(self):
        """Close the backends (an active run ends "aborted")."""
        self.tracker.close()

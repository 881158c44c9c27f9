"""A stand-in of tropt's optimizer wrapper: the calls a tracker receives
from it, in their shapes (issue 31), not tropt's code.

The wrapper calls init(run_config), runs the optimizer, then
finish(result), with no try/finally: an exception inside the optimizer
leaves the tracker active.  The config holds optimizer, model_name, loss
(a repr), templates (a list), initial_trigger, targets (a nested dict with
lists) and hparam/<name> keys; each step logs loss, best_loss, trigger_str
(a string), loss/<k> and model statistics, often as scalar tensors; the
summary holds best_loss, best_trigger_str and full_prompt (a string or a
list)."""
from tropt.tracker.base import BaseTracker


class Scalar:
    """A scalar tensor as torch has them, for this stand-in: .item() gives
    the Python number, .tolist() too (a 0-d tensor), and nothing else a
    plain value has (no __float__, no __index__)."""

    __slots__ = ("_v",)

    def __init__(self, v):
        self._v = v

    def item(self):
        return self._v

    def tolist(self):
        return self._v

    @property
    def shape(self):
        return ()


class Vector(Scalar):
    """A 1-d tensor: .tolist() gives a list; .item() fails unless it has
    one element, as in torch."""

    def item(self):
        if len(self._v) != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return self._v[0]

    def tolist(self):
        return list(self._v)

    @property
    def shape(self):
        return (len(self._v),)


class BaseOptimizer:
    def __init__(self, tracker, model_name="stand-in/model", **hparams):
        assert isinstance(tracker, BaseTracker), "tracker must be a BaseTracker"
        self.tracker = tracker
        self.model_name = model_name
        self.hparams = hparams

    def run_config(self, templates, initial_trigger, targets, loss):
        config = {"optimizer": type(self).__name__, "model_name": self.model_name,
                  "loss": repr(loss), "templates": list(templates),
                  "initial_trigger": initial_trigger, "targets": targets}
        config.update({f"hparam/{k}": v for k, v in self.hparams.items()})
        return config

    def optimize(self, templates, initial_trigger, targets, loss):
        """The wrapper: init, the optimization, finish; no try/finally."""
        self.tracker.init(self.run_config(templates, initial_trigger, targets, loss))
        result = self._optimize(templates, initial_trigger, targets, loss)
        self.tracker.finish(result)
        return result

    def _optimize(self, templates, initial_trigger, targets, loss):
        raise NotImplementedError


class ReplayOptimizer(BaseOptimizer):
    """Logs the steps it is given (dicts) and returns the summary it is
    given; raises `fail` (an exception) after the steps when set."""

    def __init__(self, tracker, steps, summary, fail=None, **hparams):
        super().__init__(tracker, **hparams)
        self.steps = steps
        self.summary = summary
        self.fail = fail

    def _optimize(self, templates, initial_trigger, targets, loss):
        for data in self.steps:
            self.tracker.log(data)
        if self.fail is not None:
            raise self.fail
        return self.summary

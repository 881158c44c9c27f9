"""The bridge from libtropt's diagnostics to Python's `logging`.

Every line of the C library goes to the logger "tropt_tracker" at the
matching level (the C threshold is $TROPT_LOG_LEVEL, default warning).  The
callback runs on the thread that caused the line: on a plugin's own thread,
or on the calling thread while a libtropt call is in progress there.  An
exception must never unwind into C: one raised by a handler is dropped.
"""
import logging

from . import _lib

logger = logging.getLogger("tropt_tracker")

_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}


def _on_c_log(level, message, _userdata):
    try:
        logger.log(_LEVELS.get(level, logging.ERROR), "%s",
                   (message or b"").decode("utf-8", "replace"))
    except BaseException:  # an exception must never unwind into C
        pass


_handler = _lib.LOG_FN(_on_c_log)  # lives as long as the module


def attach():
    """Route libtropt's diagnostics to the logger (done at import)."""
    _lib.set_log_handler(_handler, None)


def detach():
    """Give diagnostics back to libtropt's default handler (stderr): done
    at interpreter exit, once every tracker is closed, so that no thread
    calls into a finalizing interpreter."""
    _lib.set_log_handler(_lib.LOG_FN(), None)


attach()

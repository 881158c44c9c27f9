"""The bridge from libtropt's diagnostics to Python's `logging`.

Every line of the C library goes to the logger "tropt_tracker" at the
matching level (the C threshold is $TROPT_LOG_LEVEL, default warning).  The
callback runs on the thread that caused the line: on a plugin's own thread,
or on the calling thread while a libtropt call is in progress there.  An
exception must never unwind into C: KeyboardInterrupt or SystemExit raised
by a logging handler or a signal handler that ran inside the callback is
kept and raised again by the binding once the C call has returned
(reraise_pending); other exceptions of handlers are dropped, as logging
itself drops them.
"""
import logging
import threading

from . import _lib

logger = logging.getLogger("tropt_tracker")

_LEVELS = {0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR}

# (thread id, exception) raised inside the callback, waiting to be raised
# again on that thread.  Empty except right after such an interruption.
pending = []


def _on_c_log(level, message, _userdata):
    try:
        logger.log(_LEVELS.get(level, logging.ERROR), "%s",
                   (message or b"").decode("utf-8", "replace"))
    except Exception:  # a broken handler: never unwinds into C
        pass
    except BaseException as e:  # KeyboardInterrupt, SystemExit: raised later
        pending.append((threading.get_ident(), e))


def reraise_pending():
    """Raise the first KeyboardInterrupt/SystemExit that interrupted a
    callback on this thread (call after a C call returned), if any."""
    me = threading.get_ident()
    mine = [p for p in pending if p[0] == me]
    for p in mine:
        pending.remove(p)
    if mine:
        raise mine[0][1]


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

"""TrackerError, and turning a libtropt return code into the exception a
user of the reference BaseTracker expects."""
from . import _lib

# The reference's assertion text, which the C library returns with
# TROPT_ESTATE for a log() without an active run (SPEC 3, 13).
MSG_LOG_INACTIVE = "log() called on inactive tracker (missing init()?)"


class TrackerError(Exception):
    """A failure reported by libtropt: `code` (negative int), `name`
    ("TROPT_EBACKEND", ...) and `message` (the library's text)."""

    def __init__(self, code, name, message):
        super().__init__(f"{name}: {message}")
        self.code = code
        self.name = name
        self.message = message


def error(rc):
    """The exception for return code rc, built from this thread's last
    message (read it before any other libtropt call on the thread):
    AssertionError for a log() without an active run, as the reference
    raises, else TrackerError."""
    message = _lib.error_message().decode("utf-8", "replace")
    if rc == _lib.ESTATE and message.startswith(MSG_LOG_INACTIVE):
        return AssertionError(message)
    return TrackerError(rc, _lib.error_name(rc).decode(), message)


def closed():
    """The TrackerError for a call on a closed tracker."""
    return TrackerError(_lib.ESTATE, "TROPT_ESTATE", "the tracker is closed")


def check(rc):
    """Raise error(rc) when rc is not 0."""
    if rc:
        raise error(rc)

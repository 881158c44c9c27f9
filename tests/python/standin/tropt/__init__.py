"""A stand-in for tropt (https://pypi.org/project/tropt is not installable
here): only what tropt_tracker.tropt and its tests touch.  tracker/base.py
is tropt's BaseTracker as published (the reference interface, SPEC 13);
optimizer/base.py replays how tropt's optimizer wrapper calls a tracker
(issue 31)."""

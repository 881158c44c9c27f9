#!/usr/bin/env python3
"""Run the tropt_tracker unittest suite and close with a Check-style line
("NN%: Checks: N, Failures: F, Errors: E") that .ci/count.py sums."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py")
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
n = result.testsRun
f = len(result.failures) + len(result.unexpectedSuccesses)
e = len(result.errors)
pct = 100 * (n - f - e) // n if n else 0
print(f"{pct}%: Checks: {n}, Failures: {f}, Errors: {e}")
sys.exit(0 if result.wasSuccessful() and n > 0 else 1)

#!/usr/bin/env python3
"""Sum the test cases of meson test logs into one closing line.

Every test is a Check suite whose output ends with
"NN%: Checks: N, Failures: F, Errors: E"; a test that printed no such line
(or crashed after it) counts as one case.  Prints per-suite failures, then
"N passed, N failed" (and ", N skipped") and exits 1 when anything failed.
"""
import json
import re
import sys

CHECKS = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"count: cannot read {path}: {e}")
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        result = t.get("result", "")
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        m = CHECKS.findall(out)
        if result == "SKIP":
            skipped += 1
            continue
        if m:
            n, f, e = map(int, m[-1])
            passed += n - f - e
            failed += f + e
            if result not in ("OK", "EXPECTEDFAIL") and f + e == 0:
                failed += 1  # crashed, leaked or timed out after its summary
                print(f"FAILED {path}: {t.get('name')} ({result}) after its checks")
        elif result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
        if result not in ("OK", "EXPECTEDFAIL", "SKIP"):
            print(f"FAILED {path}: {t.get('name')} ({result})")
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)

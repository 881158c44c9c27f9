"""_lib and the package layout: which library is loaded, and what importing
tropt_tracker brings in (never tropt, never pandas)."""
import json
import os
import re
import shutil
import unittest

from helpers import TempDir, python

import tropt_tracker


class TestLoading(TempDir):
    def test_installed_path_is_used_without_env(self):
        # What `meson install` leaves: the package with a generated _config.py
        # naming the library; no TROPT_LIBRARY needed.
        pkg = os.path.join(self.dir, "site", "tropt_tracker")
        shutil.copytree(os.path.dirname(tropt_tracker.__file__), pkg,
                        ignore=shutil.ignore_patterns("*.in", "__pycache__"))
        with open(os.path.join(pkg, "_config.py"), "w") as f:
            f.write(f"LIBTROPT = {tropt_tracker.library_path!r}\n")
        env = {k: v for k, v in os.environ.items() if k not in ("TROPT_LIBRARY", "LD_LIBRARY_PATH")}
        env["PYTHONPATH"] = os.path.dirname(pkg)
        code = ("import tropt_tracker as t; print(t.library_path); "
                "x = t.Tracker('null'); x.init(); x.log({'a': 1}); x.finish(); x.close()")
        p = python(code, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), tropt_tracker.library_path)

    def test_library_override(self):
        env = dict(os.environ, TROPT_LIBRARY=os.path.join(self.dir, "nope.so"))
        p = python("import tropt_tracker", env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nope.so", p.stderr)

    def test_version_is_the_library_version(self):
        self.assertRegex(tropt_tracker.__version__, r"^\d+\.\d+\.\d+$")


class TestLayout(unittest.TestCase):
    def test_meson_installs_every_module(self):
        root = os.environ.get("TROPT_TEST_SOURCE_ROOT")
        if not root:
            self.skipTest("TROPT_TEST_SOURCE_ROOT not set (run through meson test)")
        pkg = os.path.join(root, "python", "tropt_tracker")
        with open(os.path.join(root, "python", "meson.build")) as f:
            listed = set(re.findall(r"'tropt_tracker/([^']+\.py)'", f.read()))
        self.assertEqual(listed, {n for n in os.listdir(pkg) if n.endswith(".py")})


    def test_import_brings_in_neither_tropt_nor_pandas(self):
        p = python("import sys, json, tropt_tracker\n"
                   "print(json.dumps(sorted(m for m in sys.modules "
                   "if m.split('.')[0] in ('tropt', 'pandas', 'numpy') "
                   "or m == 'tropt_tracker.tropt')))\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), [])

    def test_public_names(self):
        for name in ("Tracker", "TrackerError", "library_path", "runs", "read_run", "frame",
                     "__version__"):
            self.assertTrue(hasattr(tropt_tracker, name), name)
        self.assertEqual(sorted(tropt_tracker.__all__),
                         sorted(["Tracker", "TrackerError", "library_path", "runs",
                                 "read_run", "frame"]))


if __name__ == "__main__":
    unittest.main()

"""errors: what a failing call raises, with the library's code, name and
message."""
import math
import os
import unittest

from helpers import TempDir

from tropt_tracker import Tracker, TrackerError

CODES = {"TROPT_EINVAL": -1, "TROPT_ENOTFOUND": -2, "TROPT_EPLUGIN": -3, "TROPT_ESTATE": -4,
         "TROPT_EBACKEND": -5}


class TestErrors(TempDir):
    def assertCode(self, cm, name):
        e = cm.exception
        self.assertEqual(e.name, name)
        self.assertEqual(e.code, CODES[name])
        self.assertTrue(e.message)
        self.assertIn(name, str(e))
        self.assertIn(e.message, str(e))

    def test_open_errors(self):
        with self.assertRaises(TrackerError) as cm:
            Tracker("no_such_backend")
        self.assertCode(cm, "TROPT_ENOTFOUND")
        self.assertIn("no_such_backend", cm.exception.message)
        with self.assertRaises(TrackerError) as cm:
            Tracker("sqlite:no_such_option=1")
        self.assertCode(cm, "TROPT_EINVAL")
        self.assertIn("no_such_option", cm.exception.message)
        with self.assertRaises(TrackerError) as cm:
            Tracker("sqlite:path=" + os.path.join(self.dir, "missing", "dir", "x.db"))
        self.assertCode(cm, "TROPT_EBACKEND")

    def test_unusable_plugin(self):
        with open(os.path.join(self.dir, "tropt-broken.so"), "wb") as f:
            f.write(b"not an ELF file")
        old = os.environ.get("TROPT_PLUGIN_PATH", "")
        os.environ["TROPT_PLUGIN_PATH"] = self.dir + (":" + old if old else "")
        try:
            with self.assertRaises(TrackerError) as cm:
                Tracker("broken")
            self.assertCode(cm, "TROPT_EPLUGIN")
        finally:
            os.environ["TROPT_PLUGIN_PATH"] = old

    def test_backend_failure_is_a_tracker_error(self):
        with Tracker("recorder:fail=log") as t:
            t.init()
            with self.assertRaises(TrackerError) as cm:
                t.log({"x": 1})
            self.assertCode(cm, "TROPT_EBACKEND")
            self.assertIn("injected log failure at step 0", cm.exception.message)
            with self.assertRaises(TrackerError) as cm:
                t.log({"x": [1]}, step=5)  # the general path, an explicit step
            self.assertIn("injected log failure at step 5", cm.exception.message)

    def test_log_errors(self):
        with Tracker("null") as t:
            with self.assertRaises(AssertionError) as cm:
                t.log({"x": 1})
            self.assertEqual(str(cm.exception), "log() called on inactive tracker (missing init()?)")
            t.init()
            with self.assertRaises(TrackerError) as cm:
                t.log({"a/b": 1, "a": {"b": 2}})
            self.assertCode(cm, "TROPT_EINVAL")
            with self.assertRaisesRegex(TypeError, "'obj'"):
                t.log({"obj": object()})
            with self.assertRaisesRegex(TypeError, "'s/x'"):
                t.log({"s": {"x": {1, 2}}})
            with self.assertRaisesRegex(TypeError, "dict"):
                t.log([("x", 1)])
            with self.assertRaisesRegex(TypeError, "not a str"):
                t.log({1: 2})
            with self.assertRaisesRegex(ValueError, "'big'"):
                t.log({"big": 1 << 63})
            with self.assertRaisesRegex(ValueError, "'small'"):
                t.log({"small": -(1 << 63) - 1})
            with self.assertRaisesRegex(ValueError, "'n/deep'"):
                t.log({"n": {"deep": 1 << 64}})
            with self.assertRaisesRegex(ValueError, "'l'"):
                t.log({"l": [1, 1 << 70]})
            with self.assertRaisesRegex(ValueError, "'l'"):
                t.log({"l": [math.nan]})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"z": "a\x00b"})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"zl": ["a\x00b"]})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"k\x00": 1})
            with self.assertRaisesRegex(TypeError, "config"):
                t.init(5)
            with self.assertRaisesRegex(ValueError, "'x'"):
                t.init({"x": 1 << 64})
            with self.assertRaisesRegex(TypeError, "summary"):
                t.finish("done")
            self.assertTrue(t.active)  # failed calls changed nothing
            t.log({"ok": 1})
            t.finish()
        with self.assertRaises(TypeError):
            Tracker(5)
        with self.assertRaisesRegex(TypeError, "'o'"):
            Tracker("null", experiment_config={"o": object()})

    def test_prepared_shape_still_checks(self):
        # A step with the shape of the previous one takes the prepared path:
        # its values are still checked.
        with Tracker("null") as t:
            t.init()
            t.log({"i": 1, "s": "a"})
            with self.assertRaisesRegex(ValueError, "'i'"):
                t.log({"i": 1 << 63, "s": "a"})
            with self.assertRaisesRegex(ValueError, "NUL"):
                t.log({"i": 1, "s": "a\x00"})
            t.log({"i": 2, "s": "b"})


if __name__ == "__main__":
    unittest.main()

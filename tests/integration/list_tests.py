"""Prints one unittest id per line (module.Class.test) for CTest.

usage: list_tests.py DIR   (default: this directory)
Suites outside tests/integration (tests/reliability, tests/security) import
the harness from here: CTest runs them with PYTHONPATH set to this folder.
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
top = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else HERE
sys.path.insert(0, top)


def walk(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from walk(t)
        elif t.id().startswith("unittest.loader._FailedTest"):
            # an import error must fail configuration, not vanish
            raise SystemExit("cannot load %s: %s" % (t.id(), t._exception))
        else:
            yield t.id()


loader = unittest.TestLoader()
suite = loader.discover(top, pattern="test_*.py", top_level_dir=top)
for test_id in walk(suite):
    print(test_id)

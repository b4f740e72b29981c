"""Prints one unittest id per line (module.Class.test), for CTest."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def walk(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from walk(t)
        else:
            yield t.id()


loader = unittest.TestLoader()
suite = loader.discover(os.path.dirname(os.path.abspath(__file__)), pattern="test_*.py")
for test_id in walk(suite):
    print(test_id)

"""Runs the recorder's tests and ends with one line for scripts/run-tests.sh:

    python: N passed, N failed

Exit status 0 only when every test passed (skips count as passed).
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    suite = unittest.defaultTestLoader.discover(HERE, pattern='test_*.py',
                                                top_level_dir=HERE)
    res = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    print('python: %d passed, %d failed' % (res.testsRun - failed, failed))
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

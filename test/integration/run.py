#!/usr/bin/env python3
"""run.py - agentd's integration-test runner (Python 3 stdlib only).

Discovers test_*.py beside this file, runs every function named test_* in
each (in file order), prints one line per test:
    PASS name
    FAIL name: reason
    SKIP name: reason        (only for a test that raises lib.Skip)
then "integration: N passed, N failed" (the summary test/check.sh looks for)
and, last, exactly "N passed, N failed". Exits 1 if any test failed or if no
test ran.

Usage: run.py [-k SUBSTRING]... [-v]
  -k   run only tests whose name (or module:name) contains SUBSTRING
  -v   after a FAIL line, print the traceback on stderr
Environment: AGENTD_BUILD (default build), AGENTD_TEST_BUILD (default
build/test), AGENTD_TIMEOUT_SCALE, AGENTD_KEEP_TMP=1 (see lib.py).
Needs root: the children drop privileges and read /dev/kmsg.
"""
import argparse
import importlib.util
import inspect
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lib  # noqa: E402

TEST_TIMEOUT_S = 90  # a hung test is a failed test, not a hung suite
# (a test that watches for longer says so: test_x.timeout_s = 240)


class TestTimeout(Exception):
    pass


def on_alarm(signum, frame):
    raise TestTimeout("test did not finish within its time limit")


def discover():
    tests = []
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        modname = fname[:-3]
        spec = importlib.util.spec_from_file_location(modname, os.path.join(HERE, fname))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        funcs = [f for name, f in vars(mod).items()
                 if name.startswith("test_") and inspect.isfunction(f)
                 and f.__module__ == modname]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        tests += [(modname, f) for f in funcs]
    return tests


def one_line(text):
    text = " ".join(str(text).split())
    return text if len(text) <= 600 else text[:597] + "..."


def main():
    ap = argparse.ArgumentParser(description="agentd integration tests")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="run only tests whose name contains SUBSTRING (repeatable)")
    ap.add_argument("-v", action="store_true", help="print tracebacks of failures on stderr")
    opts = ap.parse_args()

    if os.geteuid() != 0:
        print("FAIL setup: the integration tests must run as root")
        print("integration: 0 passed, 1 failed")
        print("0 passed, 1 failed")
        return 1

    tests = discover()
    if opts.k:
        tests = [(m, f) for m, f in tests
                 if any(k in f.__name__ or k in "%s:%s" % (m, f.__name__) for k in opts.k)]

    signal.signal(signal.SIGALRM, on_alarm)
    # A runner stopped with SIGTERM (e.g. by `timeout`) unwinds like ^C, so
    # each test's `with` blocks still stop the agentd processes they started.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    passed = failed = skipped = 0
    started = time.monotonic()
    for _mod, func in tests:
        name = func.__name__
        signal.alarm(int(getattr(func, "timeout_s", TEST_TIMEOUT_S) * lib.SCALE))
        try:
            func()
        except lib.Skip as e:
            signal.alarm(0)
            skipped += 1
            print("SKIP %s: %s" % (name, one_line(e)), flush=True)
        except BaseException as e:  # noqa: B036 - a test's failure must not stop the suite
            signal.alarm(0)
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            reason = one_line(e) or type(e).__name__
            if not isinstance(e, AssertionError):
                reason = "%s: %s" % (type(e).__name__, reason)
            print("FAIL %s: %s" % (name, reason), flush=True)
            if opts.v:
                traceback.print_exc()
        else:
            signal.alarm(0)
            passed += 1
            print("PASS %s" % name, flush=True)
    sys.stdout.flush()
    if opts.v:
        print("(%d tests in %.1f s, %d skipped)" % (passed + failed + skipped,
                                                     time.monotonic() - started, skipped),
              file=sys.stderr, flush=True)
    print("integration: %d passed, %d failed" % (passed, failed))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

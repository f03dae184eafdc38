#!/usr/bin/env python3
"""run.py — runs every tests/proto/test_*.py function named test_*.

Usage: run.py [substring ...]   (only tests whose module:function contains one)
Each test drives the real build/tern binary with real clients on loopback.
Exit status 1 when any test failed.
"""
import importlib
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def sanitizer_reports():
    """Under `make proto-asan`: every report a sanitized tern wrote (a
    memory error, a leak at exit, undefined behaviour), printed, each one a
    failure, whether or not a test noticed the process go."""
    d = os.environ.get("TERN_SANITIZER_LOGS")
    if not d:
        return []
    found = []
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), errors="replace") as fh:
            print("---- sanitizer report %s ----\n%s" % (f, fh.read()))
        found.append("sanitizer report " + f)
    return found


def main():
    filters = sys.argv[1:]
    mods = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    failed, passed, skipped = [], 0, 0
    start = time.time()
    for name in mods:
        mod = importlib.import_module(name)
        for fn in [getattr(mod, a) for a in dir(mod) if a.startswith("test_")]:
            full = "%s:%s" % (name, fn.__name__)
            if filters and not any(f in full for f in filters):
                continue
            t0 = time.time()
            try:
                r = fn()
                if r == "skip":
                    skipped += 1
                    print("SKIP %s" % full, flush=True)
                    continue
                passed += 1
                print("ok   %s (%.1fs)" % (full, time.time() - t0), flush=True)
            except Exception:
                failed.append(full)
                print("FAIL %s (%.1fs)" % (full, time.time() - t0), flush=True)
                traceback.print_exc()
    failed += sanitizer_reports()
    print("\nprotocol tests: %d passed, %d failed, %d skipped in %.0fs" %
          (passed, len(failed), skipped, time.time() - start))
    for f in failed:
        print("  failed: " + f)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

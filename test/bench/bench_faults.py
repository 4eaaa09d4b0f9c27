#!/usr/bin/env python3
"""bench_faults.py - the faults devices die of (`make bench`; issue 16).
Prints; asserts nothing. Needs root (it mounts a tmpfs); no engine.

full disk:  agentd's data and run dirs on a small tmpfs, filled. How many
            requests (POSTed targets, key regenerations) are refused while it
            is full, how often agentd tries a cloud target meanwhile, and the
            time from freeing the space to the first write that works
            (no restart).
power cuts: agentd and its children SIGKILLed at random points while they
            write the database, config.json and lock files, 200 times, each
            cut checked (test_faults.power_cuts): cuts survived, and how many
            landed with a write of each kind in flight.

AGENTD_FAULT_SEED=N replays the same cut points.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import test_faults  # noqa: E402


def main():
    if os.geteuid() != 0:
        print("faults: skipped (needs root to mount a tmpfs)")
        return 0
    try:
        figures = test_faults.full_disk_figures()
    except Exception as e:  # noqa: BLE001 - a bench reports, it does not stop the others
        print("full disk: failed: %s" % e)
    else:
        for kind, (refused, tried, ms) in figures.items():
            if kind == "cloud target":
                print("full disk: cloud target: refused %d times while full (retried every "
                      "second); stored %.0f ms after space returned" % (refused, ms))
            else:
                print("full disk: %s: %d of %d refused while full (503 with the reason); "
                      "first success %.1f ms after space returned, no restart"
                      % (kind, refused, tried, ms))
    try:
        st = test_faults.power_cuts(200)
    except AssertionError as e:
        print("power cuts: FAILED: %s" % e)
        return 0
    inflight = ", ".join("%s %d" % kv for kv in sorted(st["inflight"].items()))
    print("power cuts: %d of %d cuts survived (seed %d); a write in flight at the cut: %s; "
          "locks a dead agentd held, given back at restart: %d cuts; config.json.tmp left: %d"
          % (st["survived"], st["cuts"], st["seed"], inflight, st["locks_left"],
             st["tmp_left"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

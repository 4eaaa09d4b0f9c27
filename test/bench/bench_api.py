#!/usr/bin/env python3
"""bench_api.py - local API figures (`make bench`). Prints; asserts nothing.

Requests per second and p99 latency of GET /ping, GET /v2/state/status and
GET /v2/applications/state under Debian's wrk (-t2 -c4 -d10s) on loopback,
with apid's RSS before and after. An app of two services is running.
"""
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from test_state_engine import State, service, target  # noqa: E402



def wrk(port, path, seconds):
    out = subprocess.run(["wrk", "-t2", "-c4", "-d%ds" % seconds, "--latency",
                          "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return (float(rps.group(1)) if rps else 0.0), (p99.group(1) if p99 else "?")


def main():
    if shutil.which("wrk") is None:
        print("api: wrk not installed (apt-get install wrk): skipped")
        return 0
    seconds = int(os.environ.get("BENCH_API_SECONDS", "10"))
    aid = "77%d" % (os.getpid() % 10000)
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11), service(2, "two", img, 12)]))
        apid = s.ad.children()["apid"]
        before = lib.status_kb(apid, "VmRSS")
        for path in ("/ping", "/v2/state/status", "/v2/applications/state"):
            rps, p99 = wrk(s.ad.port, path, seconds)
            print("api: GET %-24s %8.0f req/s, p99 %s" % (path, rps, p99))
        print("api: apid RSS %d kB before, %d kB after   (goals: >= 30000, 10000, 10000 req/s; "
              "Node supervisor 5200, 630, 300 req/s, 100 -> 265 MB)" % (before, lib.status_kb(apid, "VmRSS")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench_image.py - the balenaOS supervisor image (`make bench`). Prints; asserts nothing.

The image's size (its layer uncompressed, and gzip'd as a registry would ship it), the
time from `docker run` of the container (the start script's current flags, as in
test_image.py) to the first 200 from GET /ping, and the idle RSS/PSS of agentd and its
children inside the container.
"""
import gzip
import os
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import engine  # noqa: E402
from test_image import Supervisor, image_tag  # noqa: E402


def sizes(path):
    with tarfile.open(path) as t:
        layer = [m for m in t.getmembers() if m.name.endswith("layer.tar")][0]
        data = t.extractfile(layer).read()
    return len(data), len(gzip.compress(data, 6))


def main():
    path = os.path.join(lib.BUILD, "image", "agentd-amd64.tar")
    raw, gz = sizes(path)
    print("image: agentd supervisor image (amd64): %.1f MB uncompressed, %.1f MB gzip "
          "(the Node supervisor's image: about 60 MB on a Pi 3)" % (raw / 1e6, gz / 1e6))
    eng = engine()
    tag = image_tag(eng)
    starts = []
    for _ in range(5):
        t0 = time.monotonic()
        with Supervisor(eng, tag=tag) as s:
            starts.append(time.monotonic() - t0)
            top = eng.docker("top", s.name, "-o", "pid,args").splitlines()[1:]
            time.sleep(3)  # idle
            rss = pss = 0
            for line in top:
                pid = int(line.split()[0])
                rss += lib.status_kb(pid, "VmRSS")
                try:
                    with open("/proc/%d/smaps_rollup" % pid) as f:
                        for row in f:
                            if row.startswith("Pss:"):
                                pss += int(row.split()[1])
                except OSError:
                    pass
    starts.sort()
    print("image: docker run -> first /ping 200 over %d runs: median "
          "%.2f s, min %.2f s" % (len(starts), starts[len(starts) // 2], starts[0]))
    print("image: idle inside the container, 4 processes: VmRSS %.1f MB, Pss %.1f MB"
          % (rss / 1024, pss / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())

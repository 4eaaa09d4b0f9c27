#!/usr/bin/env python3
"""bench_delta.py - delta updates in the stand-in setup (`make bench`).
Prints; asserts nothing.

A managed device updates one service from release 1 to release 2, once with
a whole pull and once through the stand-in delta server (test_delta.py's
Device). Images are pulled through a registry server of the bench's own
(the private registry's storage, its access log on), which counts the bytes
it sends. Figures: registry bytes and seconds from the new target to the
service Running, for each. On Debian's docker.io the stand-in's "delta" is
the whole release-2 image, so the bytes are those of a whole pull: a real
delta's saving needs balenaEngine (docs/operations.md quotes its figures).
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import engine  # noqa: E402
from test_delta import Device  # noqa: E402


def registry(eng, d):
    """A docker-registry on the private registry's storage, logging each response."""
    port = lib.free_port()
    root = os.path.join(eng.statedir, "registry")
    cfg = os.path.join(d, "registry.yml")
    with open(cfg, "w") as f:
        f.write("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
                "    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n  secret: bench-%d\n"
                % (root, port, port))
    log = open(os.path.join(d, "registry.log"), "wb")
    proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=log, stderr=log)
    lib.wait_until(lambda: subprocess.run(["curl", "-sf", "http://127.0.0.1:%d/v2/" % port],
                                          capture_output=True).returncode == 0, 20)
    return proc, log, "127.0.0.1:%d" % port, os.path.join(d, "registry.log")


def written(path, start):
    with open(path, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    return sum(int(n) for n in re.findall(r"http\.response\.written=(\d+)", text))


def one(eng, reg, log_path, delta):
    img1 = "%s/agentd-test/busybox:latest" % reg
    img2 = "%s/agentd-test/busybox:v2" % reg
    cfg = None if delta else {"SUPERVISOR_DELTA": "0"}
    with Device(cfg, images=(img1, img2)) as d:
        d.release1()
        if delta:
            name = d.delta_image(registry=reg)
            d.delta_tags.append(name)
            d.cloud.delta_default = (200, {"name": name})
        start = os.path.getsize(log_path)
        t0 = time.monotonic()
        d.release2(timeout=120)
        secs = time.monotonic() - t0
        return written(log_path, start), secs


def main():
    eng = engine()
    d = lib.make_tmpdir()
    proc, log, reg, path = registry(eng, d)
    try:
        full = one(eng, reg, path, False)
        delta = one(eng, reg, path, True)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        subprocess.run(["rm", "-rf", d])
    print("delta: release 2 of one service: whole pull %d registry bytes, %.2f s to Running; "
          "through the stand-in delta server %d bytes, %.2f s (docker.io: the stand-in's "
          "delta is the whole image)" % (full[0], full[1], delta[0], delta[1]))


if __name__ == "__main__":
    sys.exit(main())

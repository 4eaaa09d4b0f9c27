#!/usr/bin/env python3
"""bench_cloud.py - cloudsyncd figures (`make bench`). Prints; asserts nothing.

cloudsyncd's RSS and CPU time while it polls (every 10 s, answered 304) and
reports, over BENCH_CLOUD_SECONDS (default 120; the issue asks for 600), and
the HTTP bytes (request + response, before TLS) of one 304 poll and of one
report.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import engine  # noqa: E402
from fake_cloud import FakeCloud, PROVISIONING_KEY  # noqa: E402

SECONDS = int(os.environ.get("BENCH_CLOUD_SECONDS", "120"))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")



def main():
    eng = engine()
    with FakeCloud() as cloud:
        port = lib.free_port()
        cfg = {"listenPort": port, "apiEndpoint": cloud.url, "apiKey": PROVISIONING_KEY,
               "applicationId": 1, "deviceType": "generic-amd64",
               "appUpdatePollInterval": 10000, "balenaRootCA": cloud.ca_b64}
        with lib.Agentd(args=["-s", eng.sock], config=cfg) as ad:
            ad.port = port
            lib.wait_until(lambda: cloud.find("PATCH", "/device/v3/state"), 30,
                           what="a first report")
            uuid = cloud.uuid
            cloud.target = {uuid: {"name": "bench", "config": {}, "apps": {}}}
            pid = ad.children()["cloudsyncd"]
            rss0, cpu0, t0 = lib.status_kb(pid, "VmRSS"), cpu_seconds(pid), time.time()
            time.sleep(SECONDS)  # a benchmark, measuring over a fixed span
            rss1, cpu1 = lib.status_kb(pid, "VmRSS"), cpu_seconds(pid)
            polls = [r for r in cloud.find("GET", "/device/v3/") if r[5]["out"] < 400]
            reports = cloud.find("PATCH", "/device/v3/state")
    p304 = polls[-1][5] if polls else {"in": 0, "out": 0}
    rep = reports[-1][5] if reports else {"in": 0, "out": 0}
    print("cloud: cloudsyncd over %d s polling every 10 s: RSS %d kB -> %d kB, CPU %.2f s "
          "(%d polls, %d reports)" % (time.time() - t0, rss0, rss1, cpu1 - cpu0,
                                      len(polls), len(reports)))
    print("cloud: bytes per 304 poll: %d out + %d in; per report: %d out + %d in (HTTP, "
          "before TLS)" % (p304["in"], p304["out"], rep["in"], rep["out"]))


if __name__ == "__main__":
    sys.exit(main())

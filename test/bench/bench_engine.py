#!/usr/bin/env python3
"""bench_engine.py - enginectl figures (`make bench`). Prints; asserts nothing.

1. Round trips per second of a small request (container inspect) through
   enginectl (driven over its channel exactly as agentd drives it) against
   the same request made directly with curl on the engine socket (one curl
   process, one kept-alive connection, requests in sequence), alternated over
   several rounds, median and range printed. The driver decodes each reply
   as agentd would; curl throws the body away.
2. Time to create and start 20 containers, in parallel and in sequence.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import Drive, engine, unique  # noqa: E402

N = int(os.environ.get("BENCH_RT", "2000"))


ROUNDS = int(os.environ.get("BENCH_RT_ROUNDS", "5"))


def via_enginectl(d, cid, k):
    """Seconds for N inspects through enginectl (the k-th bench run of driver d)."""
    d.proc.stdin.write(json.dumps({"bench": {"op": "container.inspect", "args": {"id": cid},
                                             "n": N, "concurrency": 1}}) + "\n")
    d.proc.stdin.flush()
    lib.wait_until(lambda: len(d.find_events(lambda e: "bench" in e)) > k, 120,
                   what="bench result")
    return d.find_events(lambda e: "bench" in e)[k]["bench"]["seconds"]


def direct_curl(eng, cid):
    """Seconds for N inspects with one curl process on one kept-alive connection."""
    urls = ["http://localhost/v1.41/containers/%s/json" % cid] * N
    cfg = "".join('url = "%s"\noutput = "/dev/null"\n' % u for u in urls)
    t0 = time.perf_counter()
    subprocess.run(["curl", "-s", "--unix-socket", eng.sock, "-K", "-"], input=cfg, text=True,
                   check=True)
    return time.perf_counter() - t0


def bench_round_trips(eng, d, cid):
    # alternate the two, several rounds: this machine's load drifts between runs
    ratios, vias, directs = [], [], []
    for k in range(ROUNDS):
        v = via_enginectl(d, cid, k)
        c = direct_curl(eng, cid)
        vias.append(N / v)
        directs.append(N / c)
        ratios.append(v / c)
    ratios.sort()
    mid = ratios[len(ratios) // 2]
    print("engine: container inspect round trips (%d rounds of %d): via enginectl median %.0f/s, "
          "curl direct median %.0f/s, ratio median %.2fx (%.2f-%.2fx)   (goal <= 1.2x)"
          % (ROUNDS, N, sorted(vias)[len(vias) // 2], sorted(directs)[len(directs) // 2], mid,
             ratios[0], ratios[-1]))


def bench_create_start(eng, d, parallel, n=20):
    names = [unique("bench") for _ in range(n)]
    spec = {"Image": eng.local_image, "Cmd": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"],
            "HostConfig": {"NetworkMode": "none"}}
    t0 = time.perf_counter()
    if parallel:
        tags = [d.send("container.create", {"name": nm, "spec": spec}) for nm in names]
        ids = [d.reply(t)["body"]["body"]["Id"] for t in tags]
        tags = [d.send("container.start", {"id": i}) for i in ids]
        for t in tags:
            assert d.reply(t)["type"] == "engine-result"
    else:
        for nm in names:
            i = d.call("container.create", {"name": nm, "spec": spec})["Id"]
            d.call("container.start", {"id": i})
    secs = time.perf_counter() - t0
    eng.docker("rm", "-f", *names, check=False)
    return secs


def main():
    eng = engine()
    name = unique("bench-rt")
    eng.docker("create", "--name", name, "--network", "none", eng.local_image, "true")
    try:
        with Drive(eng) as d:
            cid = d.call("container.inspect", {"id": name})["Id"]
            bench_round_trips(eng, d, cid)
            par = bench_create_start(eng, d, True)
            seq = bench_create_start(eng, d, False)
            print("engine: create+start 20 containers: parallel %.2f s, sequential %.2f s" %
                  (par, seq))
    finally:
        eng.docker("rm", "-f", name, check=False)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench_engine.py - enginectl figures (`make bench`). Prints; asserts nothing.

1. Round trips per second of a small request (container inspect) through
   enginectl (driven over its channel exactly as agentd drives it) against
   the same request made directly with curl on the engine socket (one curl
   process, one kept-alive connection, requests in sequence).
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


def bench_round_trips(eng, d, cid):
    d.proc.stdin.write(json.dumps({"bench": {"op": "container.inspect", "args": {"id": cid},
                                             "n": N, "concurrency": 1}}) + "\n")
    d.proc.stdin.flush()
    lib.wait_until(lambda: d.find_events(lambda e: "bench" in e), 120, what="bench result")
    secs = d.find_events(lambda e: "bench" in e)[0]["bench"]["seconds"]
    via = N / secs

    urls = ["http://localhost/v1.41/containers/%s/json" % cid] * N
    cfg = "".join('url = "%s"\noutput = "/dev/null"\n' % u for u in urls)
    t0 = time.perf_counter()
    subprocess.run(["curl", "-s", "--unix-socket", eng.sock, "-K", "-"], input=cfg, text=True,
                   check=True)
    direct = N / (time.perf_counter() - t0)
    print("engine: container inspect round trips: via enginectl %.0f/s, curl direct %.0f/s, "
          "ratio %.2fx   (goal <= 1.2x)" % (via, direct, direct / via))


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

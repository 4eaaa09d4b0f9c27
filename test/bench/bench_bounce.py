#!/usr/bin/env python3
"""bench_bounce.py - a bouncing engine (`make bench`). Prints; asserts nothing.

A 3-service app is applied; a release that recreates all three is posted
and, as soon as agentd starts on it, the engine (the private dockerd) is
stopped and started again. Figure: seconds from the engine answering again
to the app converged (each service's one container running the new
release), three times.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from test_state_engine import State, app_id, service, target  # noqa: E402

RUNS = 3


def converged(s, t):
    app = t["local"]["apps"][s.aid]
    want = {v["serviceName"]: "/%s_%s_%s_%s" % (v["serviceName"], v["imageId"],
                                                 app["releaseId"], app["commit"])
            for v in app["services"].values()}
    cs = s.containers()
    if set(cs) != set(want):
        return False
    return all(len(c) == 1 and c[0]["Name"] == want[n] and c[0]["State"]["Running"]
               for n, c in cs.items())


def one(run):
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        svcs = [service(i + 1, "s%d" % i, img, 100 + i, env={"RUN": str(run)})
                for i in range(3)]
        s.apply(target(aid, "c1", 1, svcs))
        t2 = target(aid, "c2", 2, [service(i + 1, "s%d" % i, img, 100 + i,
                                           env={"RUN": str(run), "V": "2"})
                                   for i in range(3)])
        mark = s.ad.mark()
        st, _ = s.post(t2)
        assert st == 200
        s.ad.wait_log(r"Killing service|Installing service", 30, since=mark)
        def down():
            lib.wait_until(lambda: not s.eng.ping(), 30, interval=0.05)
        s.eng.restart_dockerd(down)
        back = time.monotonic()  # restart_dockerd returns once /_ping answers
        lib.wait_until(lambda: converged(s, t2), 60, interval=0.05)
        return time.monotonic() - back


def main():
    secs = [one(i) for i in range(RUNS)]
    print("bounce: engine back to a 3-service release converged: %s s (goal <= 2 s)"
          % ", ".join("%.2f" % x for x in secs))


if __name__ == "__main__":
    sys.exit(main())

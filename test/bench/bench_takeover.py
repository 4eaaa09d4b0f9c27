#!/usr/bin/env python3
"""bench_takeover.py - the switch from the Node supervisor (`make bench`).
Prints; asserts nothing.

A device with 10 services the Node supervisor's way: their containers (made
by agentd, which makes them as Node does and as test_takeover.py checks
Node's comparison accepts), and a Node v19.0.5 database.sqlite holding their
target, commit and key (the fixture's database with its app replaced), and
no agentd database. Figures: the time from agentd's start to its log line
"Took over the device ..." (everything adopted, nothing to do), and the
number of engine mutations (container, network, volume, image) during the
switch and 5 s after it.
"""
import json
import os
import re
import shutil
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import engine  # noqa: E402

N = 10
WAIT = "trap 'exit 0' TERM; while :; do sleep 1; done"
COMMIT = "b0b0c0c0d0d0e0e0f0f0a0a0b0b0c0c0"
RELEASE = 7001
MUTATING = {"container": ("create", "destroy", "start", "stop", "kill", "rename", "die"),
            "network": ("create", "destroy", "connect", "disconnect"),
            "volume": ("create", "destroy"), "image": ("pull", "delete", "untag", "tag")}


def node_database(path, aid, services, global_key):
    """The fixture's Node database with the bench's app as its target."""
    shutil.copyfile(os.path.join(ROOT, "test/fixtures/node-v19/database.sqlite"), path)
    rows = [{"serviceName": s["serviceName"], "serviceId": int(sid), "imageId": s["imageId"],
             "image": s["image"], "environment": {}, "labels": {}, "running": True,
             "composition": {"command": s["command"], "network_mode": "none"},
             "appId": int(aid), "appUuid": aid, "releaseId": RELEASE, "commit": COMMIT}
            for sid, s in services.items()]
    db = sqlite3.connect(path)
    db.execute("UPDATE app SET appId = ?, uuid = ?, name = 'bench', releaseId = ?, "
               "\"commit\" = ?, services = ?, networks = '{}', volumes = '{}'",
               (int(aid), aid, RELEASE, COMMIT, json.dumps(rows)))
    db.execute("DELETE FROM currentCommit")
    db.execute("INSERT INTO currentCommit (appId, \"commit\") VALUES (?, ?)", (int(aid), COMMIT))
    db.execute("DELETE FROM apiSecret")
    db.execute("INSERT INTO apiSecret (appId, key, scopes, serviceName) VALUES "
               "(0, ?, '[{\"type\":\"global\"}]', NULL)", (global_key,))
    db.commit()
    db.close()


def events(eng, since, until):
    out = eng.docker("events", "--since", "%.3f" % since, "--until", "%.3f" % until,
                     "--format", "{{json .}}")
    evs = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [e for e in evs if e.get("Action", "").split(":")[0] in MUTATING.get(e.get("Type"), ())]


def main():
    eng = engine()
    aid = str(910000 + os.getpid() % 1000)
    services = {str(i + 1): {"serviceName": "s%d" % i, "imageId": i + 1,
                             "image": eng.local_image, "environment": {}, "labels": {},
                             "running": True, "command": ["sh", "-c", WAIT],
                             "network_mode": "none"}
                for i in range(N)}
    target = {"local": {"name": "nodesup-fixture", "config": {"SUPERVISOR_LOCAL_MODE": "true"},
                        "apps": {aid: {"name": "bench", "commit": COMMIT, "releaseId": RELEASE,
                                       "services": services}}}}
    work = lib.make_tmpdir()
    try:
        # the containers, as the Node supervisor makes them
        with lib.Agentd(args=["-s", eng.sock], workdir=work) as ad:
            lib.wait_until(lambda: "engine" in ad.log() and "connected" in ad.log(), 20)
            mark = ad.mark()
            st, _ = ad.http("POST", "/v2/local/target-state", json.dumps(target),
                            {"Content-Type": "application/json"})
            assert st == 200
            lib.wait_until(lambda: len(eng.docker("ps", "-q", "--filter",
                                                  "label=io.balena.app-id=" + aid).split()) == N,
                           120, interval=0.1)
            ad.wait_log(r"target state applied", 120, since=mark)
            with open(ad.config_path) as f:
                config = json.load(f)  # the device's identity, kept
        own = os.path.join(work, "data", "agentd.sqlite")
        db = sqlite3.connect(own)
        (key,) = db.execute("SELECT key FROM api_secret WHERE app_id = 0").fetchone()
        db.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(own + suffix):
                os.unlink(own + suffix)
        node_database(os.path.join(work, "data", "database.sqlite"), aid, services, key)

        t0 = time.time()
        with lib.Agentd(args=["-s", eng.sock], workdir=work, config=config,
                        wait_ready=False) as ad:
            rx = re.compile(r"Took over the device from the Node supervisor: (\d+) services? "
                            r"adopted as (?:it was|they were), (\d+) made again")
            m = lib.wait_until(lambda: rx.search(ad.log()), 60, interval=0.005)
            secs = time.time() - t0
            lib.wait_until(lambda: time.time() >= t0 + secs + 5, 10, interval=0.1)
            muts = events(eng, t0, time.time())
        print("takeover: %d Node-made services: agentd start to 'adopted, nothing to do' "
              "%.2f s (%s adopted, %s made again); engine mutations during the switch: %d"
              % (N, secs, m.group(1), m.group(2), len(muts)))
    finally:
        ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + aid,
                         check=False).split()
        if ids:
            eng.docker("rm", "-f", *ids, check=False)
        eng.docker("network", "rm", aid + "_default", check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

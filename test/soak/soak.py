#!/usr/bin/env python3
"""soak.py - `make soak`: agentd under sustained work, with figures. Prints;
asserts nothing (not part of `make check`; about 12 minutes on 2 cores).

A managed agentd (the fake cloud, polled every second) runs a one-service
app on the private engine, and does, one phase after the other:
  1. 20,000 local API requests of every kind that does not reboot the
     device or recreate its apps (reads, blink, update, tags, key
     regeneration, unknown routes, refused keys);
  2. 200 connects and disconnects of the /v2/local/logs stream;
  3. 500 target changes from the cloud (one per poll);
  4. 100 restarts of a child (kill -9, each in turn).
Figures: each process's RSS after the warm-up and after each half of each phase, CPU
seconds (agentd and its children, reaped ones included) per 1,000 requests,
and whether each phase's work was done.
"""
import http.client
import json
import os
import signal
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import engine  # noqa: E402
from fake_cloud import FakeCloud, PROVISIONING_KEY  # noqa: E402

REQUESTS = int(os.environ.get("SOAK_REQUESTS", "20000"))
STREAMS = int(os.environ.get("SOAK_STREAMS", "200"))
TARGETS = int(os.environ.get("SOAK_TARGETS", "500"))
RESTARTS = int(os.environ.get("SOAK_RESTARTS", "100"))
WAIT = "trap 'exit 0' TERM; while :; do sleep 1; done"
APP_ID = 970000 + os.getpid() % 1000
APP_UUID = "50a4%028x" % APP_ID
DAEMONS = ("enginectl", "apid", "cloudsyncd")


def cpu_ticks(pid, children=False):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    n = int(fields[11]) + int(fields[12])
    if children:
        n += int(fields[13]) + int(fields[14])  # reaped children
    return n


def cpu_seconds(ad):
    """agentd's, its live children's and its reaped children's CPU seconds."""
    n = cpu_ticks(ad.pid, children=True)
    for pid in ad.children().values():
        try:
            n += cpu_ticks(pid)
        except OSError:
            pass
    return n / os.sysconf("SC_CLK_TCK")


def rss(ad):
    out = {"agentd": lib.status_kb(ad.pid, "VmRSS")}
    for name, pid in ad.children().items():
        out[name] = lib.status_kb(pid, "VmRSS")
    return out


def target(uuid, n, image):
    return {uuid: {"name": "soak", "config": {"SUPERVISOR_POLL_INTERVAL": "1000",
                                              "SUPERVISOR_LOCAL_MODE": "false",
                                              "SOAK_ROUND": str(n)},
                   "apps": {APP_UUID: {"id": APP_ID, "name": "soakapp", "releases": {"50a4": {
                       "id": 1, "services": {"main": {
                           "id": 1, "image_id": 2, "image": image, "environment": {},
                           "labels": {"io.balena.features.supervisor-api": "1"},
                           "composition": {"command": ["sh", "-c", WAIT],
                                           "network_mode": "none"}}},
                       "volumes": {}, "networks": {}}}}}}}


class Client:
    """Keep-alive HTTP to apid, reconnecting when the server closes."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None):
        for _ in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.conn.request(method, path, body, headers)
                r = self.conn.getresponse()
                r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
        return 0


def global_key(ad):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(ad.datadir, "agentd.sqlite"),
                         uri=True)
    try:
        return db.execute("SELECT key FROM api_secret WHERE app_id = 0").fetchone()[0]
    finally:
        db.close()


def requests(ad, n):
    """n requests of every kind; returns {status: count}."""
    c = Client(ad.port)
    key = global_key(ad)
    kinds = [
        ("GET", "/ping", None), ("GET", "/v1/healthy", None), ("GET", "/v1/device", None),
        ("GET", "/v1/device/host-config", None), ("GET", "/v2/applications/state", None),
        ("GET", "/v2/applications/%d/state" % APP_ID, None), ("GET", "/v1/apps/%d" % APP_ID, None),
        ("GET", "/v2/state/status", None), ("GET", "/v2/version", None),
        ("GET", "/v2/containerId", None), ("GET", "/v2/device/name", None),
        ("GET", "/v2/device/vpn", None), ("GET", "/v2/device/tags", None),
        ("PATCH", "/v2/device/tags", '{"soak":"%d"}'), ("GET", "/v2/local/device-info", None),
        ("GET", "/metrics", None), ("POST", "/v1/blink", "{}"), ("POST", "/v1/update", "{}"),
        ("GET", "/v2/cleanup-volumes", None), ("GET", "/v2/no-such-route", None),
        ("GET", "/v2/applications/nope/state", None), ("POST", "/v2/local/target-state", "{}"),
    ]
    statuses = {}
    for i in range(n):
        if i % 1000 == 999:
            st = c.call("POST", "/v1/regenerate-api-key?apikey=" + key, "{}")
            if st == 200:
                key = global_key(ad)
        method, path, body = kinds[i % len(kinds)]
        if body is not None and "%d" in body:
            body = body % i
        sep = "&" if "?" in path else "?"
        use = key if i % 50 else "0" * 32  # now and then a refused key
        st = c.call(method, path + sep + "apikey=" + use, body)
        statuses[st] = statuses.get(st, 0) + 1
    return statuses


def streams(ad, n):
    ok = 0
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", ad.port, timeout=10)
        try:
            conn.request("GET", "/v2/local/logs?apikey=" + global_key(ad))
            r = conn.getresponse()
            if r.status == 200 and r.readline():
                ok += 1
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
    return ok


def main():
    eng = engine()
    figures = []
    with FakeCloud() as cloud:
        port = lib.free_port()
        cfg = {"listenPort": port, "apiEndpoint": cloud.url, "apiKey": PROVISIONING_KEY,
               "applicationId": 1, "deviceType": "generic-amd64",
               "appUpdatePollInterval": 1000, "balenaRootCA": cloud.ca_b64}
        policy = {"burst_limit": 64, "burst_window_ms": 60000, "backoff_max_ms": 1000}
        settings = {"daemons": {d: policy for d in DAEMONS}}
        try:
            with lib.Agentd(args=["-s", eng.sock], config=cfg, settings=settings) as ad:
                ad.port = port
                lib.wait_until(lambda: cloud.find("PATCH", "/device/v3/state"), 60,
                               what="a first report")
                uuid = cloud.uuid
                cloud.target = target(uuid, 0, eng.local_image)
                lib.wait_until(lambda: eng.docker("ps", "-q", "--filter",
                                                  "label=io.balena.app-id=%d" % APP_ID), 60,
                               what="the app running")
                requests(ad, 200)  # warm-up: every path once
                streams(ad, 2)
                snaps = [("after warm-up", rss(ad))]

                # each phase in two halves: growth that stops shows as a
                # second half that adds nothing
                t0, c0 = time.time(), cpu_seconds(ad)
                statuses = requests(ad, REQUESTS // 2)
                snaps.append(("after %d requests" % (REQUESTS // 2), rss(ad)))
                for k, v in requests(ad, REQUESTS - REQUESTS // 2).items():
                    statuses[k] = statuses.get(k, 0) + v
                t1, c1 = time.time(), cpu_seconds(ad)
                figures.append("soak: %d requests in %.1f s: %.3f CPU s per 1,000 (agentd and "
                               "children); statuses %s" % (
                                   REQUESTS, t1 - t0, (c1 - c0) * 1000 / REQUESTS,
                                   json.dumps(dict(sorted(statuses.items())))))
                snaps.append(("after %d requests" % REQUESTS, rss(ad)))

                ok = streams(ad, STREAMS // 2)
                snaps.append(("after %d log streams" % (STREAMS // 2), rss(ad)))
                ok += streams(ad, STREAMS - STREAMS // 2)
                figures.append("soak: %d of %d log-stream connects answered" % (ok, STREAMS))
                snaps.append(("after %d log streams" % STREAMS, rss(ad)))

                polls0 = len(cloud.find("GET", "/device/v3/"))
                t0 = time.time()
                for n in range(1, TARGETS + 1):
                    cloud.target = target(uuid, n, eng.local_image)
                    seen = len(cloud.find("GET", "/device/v3/"))
                    lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) > seen, 30,
                                   interval=0.05, what="the next poll")
                    if n == TARGETS // 2:
                        snaps.append(("after %d targets" % n, rss(ad)))
                polls = len(cloud.find("GET", "/device/v3/")) - polls0
                figures.append("soak: %d target changes from the cloud in %.0f s (%d polls)"
                               % (TARGETS, time.time() - t0, polls))
                snaps.append(("after %d targets" % TARGETS, rss(ad)))

                a0 = lib.status_kb(ad.pid, "VmRSS")
                for i in range(RESTARTS):
                    if i == RESTARTS // 2:
                        snaps.append(("after %d restarts" % i, rss(ad)))
                    name = DAEMONS[i % 3]
                    old = ad.children()[name]
                    mark = ad.mark()
                    os.kill(old, signal.SIGKILL)
                    ad.wait_child_ready(name, old, since=mark, timeout=30)
                figures.append("soak: %d child restarts done; agentd RSS %d kB -> %d kB"
                               % (RESTARTS, a0, lib.status_kb(ad.pid, "VmRSS")))
                snaps.append(("after %d restarts (children fresh)" % RESTARTS, rss(ad)))
        finally:
            ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=%d" % APP_ID,
                             check=False).split()
            if ids:
                eng.docker("rm", "-f", *ids, check=False)
            eng.docker("network", "rm", APP_UUID + "_default", check=False)
    names = ["agentd", *DAEMONS]
    print("soak: RSS kB per process, %s" % " / ".join(names))
    for label, snap in snaps:
        print("soak:   %-34s %s" % (label, " / ".join(str(snap.get(n, "-")) for n in names)))
    for line in figures:
        print(line)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench_state.py - state-engine figures (`make bench`). Prints; asserts nothing.

Time from POST /v2/local/target-state to all containers of a fresh
10-service app running (images local), against the same engine work sent
straight to the engine (the app's network, then the creates and starts, in
parallel; and in sequence), idle and while two CPU-bound processes
(stress-ng) compete, and against Debian's docker-compose `up -d` of the
equivalent compose file.
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import lib  # noqa: E402
from engine import engine  # noqa: E402

N = 10
WAIT = "trap 'exit 0' TERM; while :; do sleep 1; done"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def api(sock, method, path, body=None):
    c = UnixHTTP(sock)
    c.request(method, "/v1.41" + path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def raw(eng, parallel):
    tag = "%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
    names = ["bench-raw-%s-%d" % (tag, i) for i in range(N)]
    net = "bench-raw-%s" % tag
    spec = {"Image": eng.local_image, "Cmd": ["sh", "-c", WAIT],
            "HostConfig": {"NetworkMode": net}}

    def one(name):
        st, body = api(eng.sock, "POST", "/containers/create?name=" + name, spec)
        cid = json.loads(body)["Id"]
        api(eng.sock, "POST", "/containers/%s/start" % cid)

    t0 = time.perf_counter()
    api(eng.sock, "POST", "/networks/create", {"Name": net, "Driver": "bridge",
                                               "CheckDuplicate": True})
    if parallel:
        ts = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    else:
        for n in names:
            one(n)
    secs = time.perf_counter() - t0
    eng.docker("rm", "-f", *names, check=False)
    eng.docker("network", "rm", net, check=False)
    return secs


def compose(eng):
    d = tempfile.mkdtemp(prefix="agentd-bench-compose.")
    try:
        with open(os.path.join(d, "docker-compose.yml"), "w") as f:
            f.write("version: '2.4'\nservices:\n")
            for i in range(N):
                f.write("  s%d:\n    image: %s\n"
                        "    command: [\"sh\", \"-c\", \"%s\"]\n" % (i, eng.local_image, WAIT))
        env = dict(os.environ, DOCKER_HOST="unix://" + eng.sock)
        t0 = time.perf_counter()
        subprocess.run(["docker-compose", "-p", "agentdbench", "up", "-d"], cwd=d, env=env,
                       check=True, capture_output=True)
        secs = time.perf_counter() - t0
        subprocess.run(["docker-compose", "-p", "agentdbench", "down", "-t", "1"], cwd=d,
                       env=env, capture_output=True)
        return secs
    finally:
        shutil.rmtree(d, ignore_errors=True)


def via_agentd(eng):
    aid = str(900000 + os.getpid() % 1000)
    services = {str(i + 1): {"serviceName": "s%d" % i, "imageId": i + 1, "image": eng.local_image,
                             "environment": {}, "labels": {}, "running": True,
                             "command": ["sh", "-c", WAIT]}
                for i in range(N)}
    t = {"local": {"name": "bench", "config": {}, "apps": {aid: {
        "name": "bench", "commit": "c1", "releaseId": 1, "services": services}}}}
    with lib.Agentd(args=["-s", eng.sock]) as ad:
        lib.wait_until(lambda: "engine" in ad.log() and "connected" in ad.log(), 20)
        # the app's default network, made beforehand as compose makes its own
        ev = subprocess.Popen(["docker", "-H", "unix://" + eng.sock, "events", "--filter",
                               "label=io.balena.app-id=" + aid, "--filter", "event=start",
                               "--format", "{{.ID}}"], stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)  # let the event subscription settle before the clock starts
        t0 = time.perf_counter()
        st, _ = ad.http("POST", "/v2/local/target-state", json.dumps(t),
                        {"Content-Type": "application/json"})
        assert st == 200
        for _ in range(N):
            ev.stdout.readline()
        secs = time.perf_counter() - t0
        ev.kill()
        ev.wait()
        ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + aid).split()
        eng.docker("rm", "-f", *ids, check=False)
        for n in eng.docker("network", "ls", "-q", "--filter",
                            "label=io.balena.app-id=" + aid).split():
            eng.docker("network", "rm", n, check=False)
    return secs


def side_by_side(eng):
    """(agentd, raw in parallel, raw in sequence) seconds."""
    return via_agentd(eng), raw(eng, True), raw(eng, False)


def main():
    eng = engine()
    idle = side_by_side(eng)
    load = None
    if shutil.which("stress-ng"):
        hog = subprocess.Popen(["stress-ng", "--cpu", "2", "--timeout", "300", "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            load = side_by_side(eng)
        finally:
            hog.terminate()
            hog.wait(30)
    print("state: %d containers running after POST /v2/local/target-state: %.2f s; raw engine "
          "calls (the network, then the containers) in parallel %.2f s (ratio %.2fx, goal <= "
          "1.15x), in sequence %.2f s" % (N, idle[0], idle[1], idle[0] / idle[1], idle[2]))
    if load is not None:
        print("state: the same with two CPU-bound processes competing (stress-ng --cpu 2): "
              "agentd %.2f s, raw in parallel %.2f s (ratio %.2fx, goal <= 1.15x)"
              % (load[0], load[1], load[0] / load[1]))
    else:
        print("state: stress-ng not installed (apt-get install stress-ng): no loaded figure")
    if shutil.which("docker-compose"):
        dc = compose(eng)
        print("state: docker-compose up -d of the same %d services: %.2f s (agentd %.2fx of it)"
              % (N, dc, idle[0] / dc))
    else:
        print("state: docker-compose not installed (apt-get install docker-compose): skipped")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench_state.py - state-engine figures (`make bench`). Prints; asserts nothing.

Time from POST /v2/local/target-state to all containers of a fresh
10-service app running (images local), against the same creates and starts
sent straight to the engine (in parallel, and in sequence), and against
Debian's docker-compose `up -d` of the equivalent compose file.
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
    names = ["bench-raw-%d-%d" % (os.getpid(), i) for i in range(N)]
    spec = {"Image": eng.local_image, "Cmd": ["sh", "-c", WAIT],
            "HostConfig": {"NetworkMode": "none"}}

    def one(name):
        st, body = api(eng.sock, "POST", "/containers/create?name=" + name, spec)
        cid = json.loads(body)["Id"]
        api(eng.sock, "POST", "/containers/%s/start" % cid)

    t0 = time.perf_counter()
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
    return secs


def compose(eng):
    d = tempfile.mkdtemp(prefix="agentd-bench-compose.")
    try:
        with open(os.path.join(d, "docker-compose.yml"), "w") as f:
            f.write("version: '2.4'\nservices:\n")
            for i in range(N):
                f.write("  s%d:\n    image: %s\n    network_mode: none\n"
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
                             "command": ["sh", "-c", WAIT], "network_mode": "none"}
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


def main():
    eng = engine()
    agentd = via_agentd(eng)
    par = raw(eng, True)
    seq = raw(eng, False)
    print("state: %d containers running after POST /v2/local/target-state: %.2f s; raw engine "
          "calls in parallel %.2f s (ratio %.2fx, goal <= 1.15x), in sequence %.2f s"
          % (N, agentd, par, agentd / par, seq))
    if shutil.which("docker-compose"):
        dc = compose(eng)
        print("state: docker-compose up -d of the same %d services: %.2f s (agentd %.2fx of it)"
              % (N, dc, agentd / dc))
    else:
        print("state: docker-compose not installed (apt-get install docker-compose): skipped")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""workload.py - one run of agentd in which its three children do their real work, to
find the syscalls they make on an architecture (test/arm/trace.sh under qemu-user,
test/arm/vm-tests.sh in the ARM VMs with -S log).

A managed device against the fake balena cloud of the integration tests (HTTPS on
127.0.0.1: provisioning, target polls, state reports, the log stream: cloudsyncd's TLS,
resolver and threads), a small fake engine on a unix socket (enginectl's connection,
version, event stream and listings), and local API requests (apid). It uses the
integration tests' helpers (test/integration/lib.py, fake_cloud.py).

  workload.py [--log-mode] [--seconds S] [--out LOG] [--prefix CMD]
      --log-mode  run agentd with -S log, print the "sandbox (log mode)" lines and
                  exit 1 if any names a syscall (every forbidden call of the run)
      --prefix    a command agentd runs under (words split at spaces; trace.sh)
Environment: AGENTD_BUILD (default build), AGENTD_TIMEOUT_SCALE, as in lib.py.
"""
import argparse
import http.server
import json
import os
import re
import socket
import socketserver
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import lib  # noqa: E402
from fake_cloud import PROVISIONING_KEY, FakeCloud  # noqa: E402

# The cloud is reached by this machine's name when it is 127.0.0.1 (it is in the VMs),
# so cloudsyncd resolves it (libcurl's resolver thread, /etc/nsswitch.conf, /etc/hosts):
# the fake cloud's certificate must then name it too.
HOST = socket.gethostname()
try:
    BY_NAME = socket.gethostbyname(HOST) == "127.0.0.1"
except OSError:
    BY_NAME = False


class FakeEngine:
    """Enough of the Docker Engine API for enginectl to connect and stay connected."""

    def __init__(self, path):
        self.path = path
        self.stop = threading.Event()

    def __enter__(self):
        engine = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def address_string(self):
                return "engine"

            def send(self, status, body):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = re.sub(r"^/v[0-9.]+", "", self.path.split("?")[0])
                if path == "/_ping":
                    return self.send(200, b"OK")
                if path == "/version":
                    return self.send(200, {"Version": "20.10.24", "ApiVersion": "1.41",
                                           "MinAPIVersion": "1.12", "Os": "linux"})
                if path == "/events":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.flush()
                    while not engine.stop.wait(0.5):
                        pass
                    self.close_connection = True
                    return None
                if path in ("/containers/json", "/images/json", "/networks"):
                    return self.send(200, [])
                if path == "/volumes":
                    return self.send(200, {"Volumes": [], "Warnings": None})
                return self.send(404, {"message": "not in the fake engine: " + path})

            do_POST = do_DELETE = do_GET

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.server = Server(self.path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        return False


class Run(lib.Agentd):
    def __init__(self, config, **kw):
        self.base_config = config
        super().__init__(**kw)

    def start(self):
        port = lib.free_port()
        self.config = dict(self.base_config, listenPort=port)
        super().start()
        self.port = port
        return self


def requests_to(cloud, method, part):
    return [r for r in list(cloud.requests) if r[0] == method and part in r[1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log-mode", action="store_true")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--out")
    ap.add_argument("--prefix", default="")
    a = ap.parse_args()
    notes = []
    with tempfile.TemporaryDirectory(prefix="agentd-workload.") as tmp, FakeCloud(cert_names=[HOST] if BY_NAME else []) as cloud, \
            FakeEngine(os.path.join(tmp, "engine.sock")) as engine:
        sock = engine.path
        url = cloud.url.replace("127.0.0.1", HOST) if BY_NAME else cloud.url
        config = {"apiEndpoint": url, "apiKey": PROVISIONING_KEY, "applicationId": 1234,
                  "deviceType": "raspberrypi4-64", "appUpdatePollInterval": 500,
                  "bootstrapRetryDelay": 1000, "balenaRootCA": cloud.ca_b64}
        args = ["-s", sock, "-v"] + (["-S", "log"] if a.log_mode else [])
        # pings every second: agentd sends its state to cloudsyncd every sixth;
        # under emulation and strace a child may take more than 10 s to start
        settings = {"user": "nobody", "ping_interval_ms": 1000, "handshake_timeout_ms": 60000}
        with Run(config, args=args, prefix=a.prefix.split(), settings=settings) as ad:
            def wait(cond, what, timeout=60):
                try:
                    lib.wait_until(cond, timeout * lib.SCALE, 0.1, what=what)
                except AssertionError:
                    notes.append("not seen: " + what)
            wait(lambda: requests_to(cloud, "POST", "/device/register"), "registration")
            with open(ad.config_path) as f:
                uuid = json.load(f)["uuid"]
            # an app whose image the fake engine does not have: pulls fail, retried
            cloud.target = {uuid: {"name": "workload", "config": {
                "RESIN_SUPERVISOR_POLL_INTERVAL": "500"}, "apps": {"a" * 32: {
                    "id": 1, "name": "app", "releases": {"c0ffee": {
                        "id": 7, "services": {"main": {
                            "id": 1, "image_id": 11, "image": "registry.invalid/app:1",
                            "environment": {}, "labels": {}, "composition": {}}},
                        "volumes": {}, "networks": {}}}}}}}
            wait(lambda: requests_to(cloud, "GET", "/state"), "a target poll")
            wait(lambda: re.search(r"engine \S+ connected", ad.log()), "the engine connected")
            # API requests for --seconds, and on until the first state report
            # (throttled by cloudsyncd) or 90 s
            end = time.monotonic() + a.seconds
            hard = time.monotonic() + 90 * lib.SCALE
            paths = ["/ping", "/v1/healthy", "/v2/version", "/v1/device", "/v2/state/status",
                     "/v2/applications/state", "/v2/device/tags", "/v2/local/target-state",
                     "/metrics", "/v1/device/host-config", "/no/such/route"]
            while time.monotonic() < hard and (
                    time.monotonic() < end or not requests_to(cloud, "PATCH", "/device/v3/state")):
                for p in paths:
                    try:
                        lib.http_request(ad.port, "GET", p, timeout=10)
                    except OSError as e:
                        notes.append("GET %s: %s" % (p, e))
                try:
                    lib.http_request(ad.port, "POST", "/v1/update", body=b"{}",
                                     headers={"Content-Type": "application/json"},
                                     timeout=10)
                except OSError as e:
                    notes.append("POST /v1/update: %s" % e)
            if not requests_to(cloud, "PATCH", "/device/v3/state"):
                notes.append("not seen: a state report")
            log = ad.log()
            children = ad.children()
            if not re.search(r"^agentd: confined: .*seccomp allow-list of \d+ calls", log, re.M):
                notes.append("not seen: agentd confined by its own allow-list")
    if a.out:
        with open(a.out, "w") as f:
            f.write(log)
    for n in sorted(set(notes)):
        print("workload: " + n)
    print("workload: children at the end: %s" % json.dumps(children, sort_keys=True))
    print("workload: cloud requests: %s" % " ".join(sorted(
        {"%s %s" % (r[0], re.sub(r"[0-9a-f]{32}", "<uuid>", r[1].split("?")[0]))
         for r in cloud.requests})))
    calls = sorted(set(re.findall(r"^(\w+): warning: sandbox \(log mode\): called (\S+) \(\d+\)",
                                  log, re.M)))
    # agentd's own list: agentd itself, or a program it ran (by its name)
    calls += sorted(set(
        ("agentd's list, " + re.sub(r" \(pid \d+, run by agentd\)", "", who), name)
        for who, name in re.findall(
            r"^agentd: warning: sandbox \(log mode\): (.+?) called (\S+) \(\d+\)", log, re.M)))

    for d, name in calls:
        print("workload: log mode: %s called %s" % (d, name))
    killed = re.findall(r"^agentd: error: \S+: sandbox violation.*$", log, re.M)
    for k in killed:
        print("workload: " + k)
    return 1 if (a.log_mode and calls) or killed else 0


if __name__ == "__main__":
    sys.exit(main())

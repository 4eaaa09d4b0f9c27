"""test_sync.py - `make sync DEVICE=...` (issue 18) against the private
engine standing in for a development device: its socket is relayed to a
TCP port on 127.0.0.1 (a balenaOS development image's engine listens on
2375), a balena_supervisor container runs the image as the OS's start script
started it, and make sync must replace it: the same name, a new container of
the freshly built image, the same mounts and port, answering /ping, its log
streaming until ^C.
"""
import json
import os
import signal
import subprocess

import lib
from engine import engine
from test_image import Supervisor

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_make_sync_replaces_balena_supervisor_with_the_built_image_and_follows_its_log():
    eng = engine()
    relay = lib.Relay(0, eng.sock)
    proc = None
    try:
        if eng.docker("ps", "-aq", "--filter", "name=^balena_supervisor$"):
            raise AssertionError("a balena_supervisor container exists: not the test's")
        s = Supervisor(eng)
        s.name = "balena_supervisor"
        with s:
            before = s.inspect()
            out_path = os.path.join(s.dir, "sync.out")
            out = open(out_path, "wb")
            proc = subprocess.Popen(["make", "-C", REPO, "--no-print-directory", "sync",
                                     "DEVICE=127.0.0.1:%d" % relay.port],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)

            def output():
                with open(out_path, "rb") as f:
                    return f.read().decode("utf-8", "replace")
            # the new container's own log, followed: agentd says its children are up
            lib.wait_until(lambda: "runs agentd/" in output() and
                           "all children ready" in output().split("runs agentd/", 1)[1],
                           180, interval=0.2, what="make sync to follow the new log")
            assert "sync: device 127.0.0.1:%d is amd64" % relay.port in output(), output()
            os.killpg(proc.pid, signal.SIGINT)  # ^C
            proc.wait(30)
            out.close()
            after = s.inspect()
            assert after["Id"] != before["Id"], "the container was not replaced"
            assert after["Name"] == "/balena_supervisor"
            assert after["Config"]["Image"].startswith("agentd/amd64-supervisor:")
            assert sorted(m["Destination"] for m in after["Mounts"]) == \
                sorted(m["Destination"] for m in before["Mounts"])
            assert after["HostConfig"]["NetworkMode"] == "host"
            assert "LISTEN_PORT=%d" % s.port in after["Config"]["Env"]
            lib.wait_until(lambda: s.http("GET", "/ping")[0] == 200, 30,
                           what="/ping from the synced supervisor")
            assert json.loads(eng.docker("inspect", "--format", "{{json .State.Running}}",
                                         "balena_supervisor"))
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        relay.close()


test_make_sync_replaces_balena_supervisor_with_the_built_image_and_follows_its_log.timeout_s = 240

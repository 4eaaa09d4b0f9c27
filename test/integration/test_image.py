"""test_image.py - agentd as the container balenaOS starts (issue 11).

`make image` builds the image; the test loads it into the private engine and
starts it the way balenaOS's start-balena-supervisor does, with both of its flag
sets (today's, and the pre-v6.12.2 one that fleets still run), over a fake host
root bound at /mnt/root. Differences from the OS's command, each forced by this
machine: no --privileged (privileged containers cannot start here; the default
capabilities are enough for what is tested), no --cidenv (a balenaEngine CLI
extension Debian's docker lacks), and AGENTD_HOST_RUN_DIR, because the fake host
root is not the engine's own root: the engine must find the lock dirs agentd
makes under it by their path on this machine.
"""
import json
import os
import shutil
import socket
import subprocess

import lib
from engine import engine, unique

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WAIT = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def image_tag(eng):
    """Load build/image/agentd-amd64.tar (make image); its tag."""
    path = os.path.join(lib.BUILD, "image", "agentd-amd64.tar")
    if not os.path.exists(path):
        raise AssertionError("%s not built: run 'make image'" % path)
    out = eng.docker("load", "-i", path, timeout=120)
    return out.split("Loaded image:", 1)[1].strip()


class Supervisor:
    """The image run as balena_supervisor, by one of the start script's flag sets."""

    def __init__(self, eng, legacy=False, config=None, tag=None):
        self.eng = eng
        self.tag = tag
        self.legacy = legacy
        self.name = unique("balena_supervisor")
        self.port = lib.free_port()
        self.config = dict(config or {}, listenPort=self.port)

    def __enter__(self):
        self.dir = lib.make_tmpdir()
        self.root = os.path.join(self.dir, "root")
        for sub in ("mnt/boot", "mnt/state", "mnt/data", "etc", "tmp", "var/lib/docker"):
            os.makedirs(os.path.join(self.root, sub))
        with open(os.path.join(self.root, "etc/os-release"), "w") as f:
            f.write('PRETTY_NAME="balenaOS 6.5.39+rev1"\n')
        self.config_path = os.path.join(self.root, "mnt/boot/config.json")
        lib.write_json(self.config_path, self.config)
        self.data = os.path.join(self.dir, "resin-data")
        os.makedirs(self.data)
        os.makedirs(os.path.join(self.dir, "supervisor-log"))
        tag = self.tag or image_tag(self.eng)
        mount = "type=bind,source=%s,target=%s"
        argv = ["run", "-d", "--name", self.name, "--net=host",
                "--mount", mount % (self.eng.sock, "/var/run/balena-engine.sock"),
                "--mount", mount % (self.data, "/data"),
                "--mount", mount % (os.path.join(self.dir, "supervisor-log"), "/var/log"),
                "--mount", mount % (self.root, "/mnt/root")]
        if self.legacy:  # pre-v6.12.2 (meta-balena 8e4ed15d5 .. 373a60000)
            apps = os.path.join(self.root, "mnt/data/apps.json")
            lib.write_json(apps, {})
            argv += ["--restart=always",
                     "--mount", mount % (self.config_path, "/boot/config.json"),
                     "--mount", mount % (apps, "/boot/apps.json"),
                     "--mount", mount % ("/proc/net/fib_trie", "/mnt/fib_trie"),
                     "--mount", mount % ("/etc/ssl/certs", "/etc/ssl/certs") + ",readonly",
                     "--mount", mount % ("/usr/share/ca-certificates",
                                         "/usr/share/ca-certificates") + ",readonly",
                     "-e", "DOCKER_ROOT=/mnt/root/var/lib/docker"]
        argv += ["-e", "DOCKER_SOCKET=/var/run/balena-engine.sock",
                 "-e", "BOOT_MOUNTPOINT=/mnt/boot",
                 "-e", "MIXPANEL_TOKEN=",
                 "-e", "DELTA_ENDPOINT=https://delta.balena-cloud.com",
                 "-e", "LED_FILE=/dev/null",
                 "-e", "LISTEN_PORT=%d" % self.port,
                 "-e", "NODE_EXTRA_CA_CERTS=",
                 "-e", "SUPERVISOR_IMAGE=" + tag.rsplit(":", 1)[0],
                 "-e", "AGENTD_HOST_RUN_DIR=" + os.path.join(self.root, "tmp/balena-supervisor"),
                 tag]
        try:
            self.id = self.eng.docker(*argv)
            lib.wait_until(lambda: self.http("GET", "/ping")[0] == 200, 30,
                           what="/ping from the supervisor container")
        except BaseException:
            self.__exit__()
            raise
        return self

    def http(self, method, path, body=None):
        try:
            return lib.http_request(self.port, method, path,
                                    None if body is None else json.dumps(body),
                                    {"Content-Type": "application/json"})
        except (OSError, socket.timeout):
            return 0, ""

    def logs(self):
        """What agentd logged (to stderr, which the engine keeps)."""
        env = dict(os.environ, DOCKER_HOST="unix://" + self.eng.sock)
        p = subprocess.run(["docker", "logs", self.name], env=env, capture_output=True,
                           text=True, timeout=60)
        return p.stdout + p.stderr

    def inspect(self):
        return json.loads(self.eng.docker("inspect", self.name))[0]

    def __exit__(self, *exc):
        self.eng.docker("rm", "-f", self.name, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def local_target(eng, aid):
    return {"local": {"name": "image-test", "config": {"SUPERVISOR_LOCAL_MODE": "true"},
                      "apps": {aid: {"name": "app" + aid, "commit": "c1", "releaseId": 1,
                                     "services": {"1": {
                                         "serviceName": "one", "imageId": 11,
                                         "image": eng.local_image, "running": True,
                                         "command": ["sh", "-c", WAIT],
                                         "network_mode": "none"}}}}}}


def remove_app(eng, aid):
    ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + aid,
                     check=False).split()
    if ids:
        eng.docker("rm", "-f", *ids, check=False)
    eng.docker("network", "rm", aid + "_default", check=False)


def run_flag_set(legacy):
    eng = engine()
    aid = str(860000 + os.getpid() % 1000 + (500 if legacy else 0))
    with Supervisor(eng, legacy=legacy) as s:
        try:
            assert s.http("GET", "/v1/healthy")[0] == 200
            logs = s.logs()
            assert "config /mnt/root/mnt/boot/config.json" in logs, logs
            assert "host root /mnt/root" in logs and "data /data" in logs, logs
            # it keeps the host firewall, as the balena supervisor does; without
            # --privileged it may not (no CAP_NET_ADMIN): a clear line, and it goes on
            lib.wait_until(lambda: "Firewall mode not applied" in s.logs(), 20,
                           what="the firewall attempt")
            assert "BALENA-FIREWALL" not in subprocess.run(
                ["iptables", "-S"], capture_output=True, text=True).stdout
            # its own database beside the one a Node supervisor would have had
            assert os.path.exists(os.path.join(s.data, "agentd.sqlite"))
            assert not os.path.exists(os.path.join(s.data, "database.sqlite"))
            # a local target through the engine socket
            st, body = s.http("POST", "/v2/local/target-state", local_target(eng, aid))
            assert st == 200, body
            lib.wait_until(lambda: eng.docker("ps", "--filter", "label=io.balena.app-id=" + aid,
                                              "--format", "{{.Names}}") == "one_11_1_c1", 60,
                           what="the app's service running")
            # the lock dir the OS reads is the host's, under the host root
            assert os.path.isdir(os.path.join(s.root, "tmp/balena-supervisor/services", aid,
                                              "one"))
            dev = json.loads(s.http("GET", "/v1/device")[1])
            assert dev["os_version"] == "balenaOS 6.5.39+rev1", dev
            # the image's HEALTHCHECK, run by the engine
            assert s.inspect()["Config"]["Healthcheck"]["Test"] == \
                ["CMD", "/usr/sbin/agentd", "-H"]
            lib.wait_until(lambda: s.inspect()["State"]["Health"]["Status"] == "healthy", 90,
                           what="the HEALTHCHECK to pass")
            # the processes: agentd and its three children, sandboxed
            top = eng.docker("top", s.name, "-o", "pid,user,args").splitlines()[1:]
            procs = {line.split(None, 2)[2]: (int(line.split()[0]), line.split()[1])
                     for line in top}
            assert set(procs) == {"/usr/sbin/agentd -f", "/usr/lib/agentd/enginectl",
                                  "/usr/lib/agentd/apid", "/usr/lib/agentd/cloudsyncd"}, top
            for child in ("enginectl", "apid", "cloudsyncd"):
                pid, user = procs["/usr/lib/agentd/" + child]
                status = {k: v.strip() for k, v in lib.proc_status(pid).items()}
                assert (status["Seccomp"], status["NoNewPrivs"]) == ("2", "1"), (child, status)
                assert user == ("root" if child == "enginectl" else "nobody"), (child, user)
            # SIGTERM (balena stop): a clean exit, the app left running
            eng.docker("stop", "-t", "20", s.name, timeout=60)
            assert s.inspect()["State"]["ExitCode"] == 0, s.logs()[-2000:]
            assert eng.docker("ps", "--filter", "label=io.balena.app-id=" + aid,
                              "--format", "{{.Names}}") == "one_11_1_c1"
        finally:
            remove_app(eng, aid)


def test_the_image_runs_under_the_start_scripts_current_flags():
    run_flag_set(legacy=False)


def test_the_image_runs_under_the_pre_6_12_2_flags():
    run_flag_set(legacy=True)

"""engine.py - the real container engine for integration tests.

`engine()` returns the private dockerd and registry that test/check.sh
started (its env: DOCKER_SOCK, TEST_IMAGE, ...), or starts a private pair
for this run of run.py when none was given and stops it at exit.
`Drive` runs enginectl under build/engine-drive, which plays agentd's part
(handshake, then engine calls) and reports replies and events as JSON lines.
"""
import atexit
import json
import os
import queue
import secrets
import signal
import subprocess
import threading
import time

import lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_engine = None


class Engine:
    def __init__(self, env):
        self.env = env
        self.sock = env["DOCKER_SOCK"]
        self.registry = env["REGISTRY"]
        self.image = env["TEST_IMAGE"]
        self.image_v2 = env["TEST_IMAGE_V2"]
        self.local_image = env["LOCAL_IMAGE"]
        self.statedir = env.get("ENGINE_STATEDIR", "")

    def docker(self, *args, check=True, timeout=60):
        env = dict(os.environ, DOCKER_HOST="unix://" + self.sock)
        if self.statedir:
            env["DOCKER_CONFIG"] = os.path.join(self.statedir, "cli")
        p = subprocess.run(["docker", *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("docker %s: %s" % (" ".join(args), p.stderr.strip()))
        return p.stdout.strip()

    def api(self, method, path, body=None, timeout=10):
        """One raw Engine API call with curl (the baseline in benchmarks)."""
        cmd = ["curl", "-s", "-X", method, "--unix-socket", self.sock,
               "http://localhost" + path, "-w", "\n%{http_code}"]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
        text, _, code = out.rpartition("\n")
        return int(code or 0), text

    def ping(self):
        try:
            return self.api("GET", "/_ping", timeout=3)[0] == 200
        except (subprocess.TimeoutExpired, OSError):
            return False

    def dockerd_pid(self):
        with open(os.path.join(self.statedir, "dockerd.pid")) as f:
            return int(f.read().strip())

    def restart_dockerd(self, down_callback=None):
        """Stop dockerd (SIGTERM, by pid), let the caller look while it is down,
        then start it again with the same command line."""
        pid = self.dockerd_pid()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0") if a]
        os.kill(pid, signal.SIGTERM)

        def stopped():
            try:  # a dockerd an earlier restart started is our child: reap it
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            return lib.gone(pid)
        lib.wait_until(stopped, 30, what="dockerd to stop")
        if down_callback:
            down_callback()
        log = open(os.path.join(self.statedir, "dockerd.log"), "ab")
        subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                         start_new_session=True)
        log.close()
        lib.wait_until(self.ping, 60, what="dockerd to answer again")


def engine():
    global _engine
    if _engine is not None:
        return _engine
    env = dict(os.environ)
    if not env.get("DOCKER_SOCK"):
        statedir = lib.make_tmpdir()
        out = subprocess.run(["bash", os.path.join(ROOT, "test/harness/engine-up.sh"), statedir],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise AssertionError("cannot start a private engine: " + out.stderr[-500:])
        atexit.register(subprocess.run, ["bash", os.path.join(ROOT, "test/harness/engine-down.sh"),
                                         statedir], capture_output=True)
        for line in out.stdout.splitlines():
            k, _, v = line.partition("=")
            env[k] = v
        env["ENGINE_STATEDIR"] = statedir
    _engine = Engine(env)
    return _engine


def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(4))


class Drive:
    """enginectl under engine-drive. Use as a context manager."""

    def __init__(self, eng, mode="kill", build=None):
        self.eng = eng
        self.mode = mode
        self.build = build or lib.binary().rsplit("/", 1)[0]
        self.lines = queue.Queue()
        self.events = []
        self.replies = {}
        self.stderr = []
        self.tag = 0
        self.lock = threading.Lock()

    def __enter__(self):
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "engine-drive"), os.path.join(self.build, "enginectl"),
             self.eng.sock, self.mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        self.wait_event(lambda e: e.get("ready"), 15, what="enginectl ready")
        self.wait_event(lambda e: e.get("event") == "engine-state"
                        and e["body"].get("connected"), 15, what="engine connected")
        return self

    def __exit__(self, *exc):
        try:
            self.proc.stdin.write('{"quit": true}\n')
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _read(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if "reply" in obj:
                    self.replies[obj["reply"]] = obj
                else:
                    self.events.append(obj)

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def pid(self):
        for e in list(self.events):
            if e.get("ready"):
                return e["pid"]
        return None

    def send(self, op, args=None):
        self.tag += 1
        tag = "t%d" % self.tag
        self.proc.stdin.write(json.dumps({"op": op, "args": args or {}, "tag": tag}) + "\n")
        self.proc.stdin.flush()
        return tag

    def reply(self, tag, timeout=60):
        lib.wait_until(lambda: tag in self.replies, timeout, what="reply to " + tag)
        return self.replies[tag]

    def call(self, op, args=None, timeout=60):
        """An engine call that must succeed; returns the engine's body."""
        r = self.reply(self.send(op, args), timeout)
        if r["type"] != "engine-result":
            raise AssertionError("%s failed: %s (enginectl: %s)" % (op, r["body"],
                                                                   self.stderr[-3:]))
        return r["body"]["body"]

    def fail(self, op, args=None, timeout=60):
        """An engine call that must fail; returns {error, status}."""
        r = self.reply(self.send(op, args), timeout)
        if r["type"] != "error":
            raise AssertionError("%s succeeded unexpectedly: %s" % (op, r["body"]))
        return r["body"]

    def find_events(self, pred):
        with self.lock:
            return [e for e in self.events if pred(e)]

    def wait_event(self, pred, timeout=20, what="event"):
        lib.wait_until(lambda: self.find_events(pred), timeout, what=what)
        return self.find_events(pred)[0]

"""lib.py - helpers for agentd's integration tests (Python 3 stdlib only).

The main piece is `Agentd`, a context manager that runs one agentd in the
foreground inside a private temporary directory:

    with Agentd() as a:               # waits until "all children ready"
        assert a.http("GET", "/ping") == (200, "OK")
        kids = a.children()           # {"enginectl": pid, "apid": pid, ...}
        a.wait_log(r"apid: ready \\(pid \\d+\\)")

Every wait here polls against a deadline (`wait_until`); nothing sleeps for a
fixed time to synchronise. On exit agentd gets SIGTERM and up to 10 s to stop;
only then are agentd's own pid and the pids of the children it was seen with
sent SIGKILL (each checked against its recorded start time, so a reused pid is
never hit). Processes are never looked up or killed by name.

`run_reaped()` runs agentd once, for start-up errors, under a helper process
that is a child subreaper: any process agentd started is reparented to the
helper, so "agentd started no children" is checked without guessing.

Environment:
  AGENTD_BUILD        directory with agentd and its children (default build)
  AGENTD_TEST_BUILD   the same, built by `make test-build` (default build/test)
  AGENTD_TIMEOUT_SCALE  multiply every deadline (slow machines), default 1
  AGENTD_KEEP_TMP=1   keep the temporary directories (for debugging)
Relative paths are taken from the repository root, found from this file.
"""
import ctypes
import errno
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DAEMONS = ("enginectl", "apid", "cloudsyncd")
NOBODY_UID = 65534
SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1


def _dir_from_env(var, default):
    path = os.environ.get(var) or default
    return path if os.path.isabs(path) else os.path.join(REPO, path)


BUILD = _dir_from_env("AGENTD_BUILD", "build")
TEST_BUILD = _dir_from_env("AGENTD_TEST_BUILD", "build/test")
SCALE = float(os.environ.get("AGENTD_TIMEOUT_SCALE") or 1)
KEEP_TMP = os.environ.get("AGENTD_KEEP_TMP") == "1"

# Variables that would change agentd's behaviour if inherited from whoever
# runs the suite (systemd, a developer's shell).
_SCRUB_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
              "LISTEN_FDNAMES", "CONFIG_MOUNT_POINT", "AGENTD_DATA_DIR", "DOCKER_SOCKET",
              "AGENTD_API_ADDRESS", "AGENTD_RUN_DIR", "AGENTD_HOST_ROOT", "AGENTD_HOST_RUN_DIR",
              "BOOT_MOUNTPOINT", "STATE_MOUNTPOINT", "HOST_OS_VERSION_PATH", "LED_FILE",
              "LISTEN_PORT", "DBUS_SYSTEM_BUS_ADDRESS", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE",
              "DATA_MOUNTPOINT")


class Skip(Exception):
    """Raise to skip a test (the runner prints SKIP and counts it as neither)."""


# --------------------------------------------------------------------------- waiting


def wait_until(cond, timeout=10.0, interval=0.02, what=None):
    """Poll cond() until it returns something truthy; return that value.

    Raises AssertionError naming `what` once `timeout` seconds (times
    AGENTD_TIMEOUT_SCALE) have passed without success."""
    deadline = time.monotonic() + timeout * SCALE
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %gs waiting for %s"
                                 % (timeout * SCALE, what or getattr(cond, "__name__", "condition")))
        time.sleep(interval)


# --------------------------------------------------------------------------- /proc


def proc_stat(pid):
    """{'state', 'ppid', 'starttime', 'comm'} of a process, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    rp = data.rindex(")")
    rest = data[rp + 2:].split()
    return {"comm": data[data.index("(") + 1:rp], "state": rest[0], "ppid": int(rest[1]),
            "starttime": int(rest[19])}


def proc_status(pid):
    """/proc/<pid>/status as a dict of field -> raw value (tabs kept)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(":")
            out[key] = value
    return out


def status_kb(pid, key):
    """A numeric field of /proc/<pid>/status (VmRSS in kB, PPid...) as an int; 0 if gone."""
    try:
        return int(proc_status(pid).get(key, "0 kB").split()[0])
    except OSError:
        return 0


def proc_environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        raw = f.read()
    env = {}
    for item in raw.split(b"\0"):
        if item:
            k, _, v = item.decode("utf-8", "replace").partition("=")
            env[k] = v
    return env


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def alive(pid, starttime=None):
    """True if pid exists, is not a zombie, and (if given) started at starttime."""
    st = proc_stat(pid)
    if st is None or st["state"] in ("Z", "X"):
        return False
    return starttime is None or st["starttime"] == starttime


def gone(pid, starttime=None):
    """True if pid no longer names the process we knew (exited and reaped, or reused)."""
    st = proc_stat(pid)
    return st is None or (starttime is not None and st["starttime"] != starttime)


def processes_with_parent(ppid):
    """[(pid, comm, state)] of every process (zombies included) whose parent is ppid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None and st["ppid"] == ppid:
            out.append((int(name), proc_comm(int(name)) or st["comm"], st["state"]))
    return out


def kmsg_readable():
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    os.close(fd)
    return True


class KmsgReader:
    """Follows /dev/kmsg from now on, to see which seccomp audit records the
    kernel actually printed. Without auditd the kernel prints them through
    printk_ratelimit() (10 per 5 s by default, shared by the whole machine),
    so a record can be dropped before agentd could ever read it: tests use
    this to tell "agentd missed a record" from "there was no record"."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.records = []

    def poll(self):
        while True:
            try:
                data = os.read(self.fd, 8192)
            except BlockingIOError:
                return self.records
            except BrokenPipeError:
                continue  # overrun: some records were lost, go on
            if not data:
                return self.records
            self.records.append(data.decode("utf-8", "replace"))

    def seccomp_record(self, pid, syscall=None):
        """The printed type=1326 record for pid (and syscall), or None."""
        for rec in self.poll():
            if "type=1326" in rec and re.search(r" pid=%d " % pid, rec) and (
                    syscall is None or re.search(r" syscall=%d " % syscall, rec)):
                return rec
        return None

    def close(self):
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# --------------------------------------------------------------------------- network


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(port, method, path, body=None, headers=None, timeout=5.0):
    """One HTTP request to 127.0.0.1:port; returns (status, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SCALE)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


# --------------------------------------------------------------------------- relay


class Relay:
    """127.0.0.1:port (0: any free one; see .port) -> a unix socket, a thread
    pair per connection."""

    def __init__(self, port, unix_path):
        self.unix_path = unix_path
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.lsock.bind(("127.0.0.1", port))
        except OSError as e:
            self.lsock.close()
            raise Skip("127.0.0.1:%d is taken (%s)" % (port, e))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                u.connect(self.unix_path)
            except OSError:
                c.close()
                u.close()
                continue
            with self.lock:
                self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
        self.thread.join(5)
        with self.lock:
            for s in self.socks:
                s.close()


# --------------------------------------------------------------------------- files


def make_tmpdir():
    """A new private directory with a short path (unix socket paths must fit)."""
    return tempfile.mkdtemp(prefix="ad.", dir="/tmp")


def write_json(path, obj):
    with open(path, "w") as f:
        if isinstance(obj, str):
            f.write(obj)  # raw text: lets tests write invalid JSON
        else:
            json.dump(obj, f)
    return path


class TempDir:
    """A temporary directory removed on exit (unless AGENTD_KEEP_TMP=1)."""

    def __enter__(self):
        self.path = make_tmpdir()
        return self.path

    def __exit__(self, *exc):
        if not KEEP_TMP:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def base_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB_ENV}
    env.update(extra or {})
    return env


def binary(test_build=False):
    path = os.path.join(TEST_BUILD if test_build else BUILD, "agentd")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s not found: run 'make -C %s all test-build' first" % (path, REPO))
    return path


def _hide_kmsg():
    """preexec_fn: a private mount namespace with /dev/null bound over /dev/kmsg
    (affects only the process being started)."""
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 0x1000, 0x4000, 0x40000
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    if libc.mount(b"/dev/null", b"/dev/kmsg", None, MS_BIND, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --bind /dev/null /dev/kmsg")


# --------------------------------------------------------------------------- agentd


class Agentd:
    """One agentd (foreground) in its own temporary directory.

    Arguments:
      test_build   use AGENTD_TEST_BUILD (children with the SIGUSR2 hook)
      settings     dict (or raw text) written to agentd.json and passed with -C
      config       dict (or raw text) for config.json; default {"listenPort": port}
      args         extra command-line arguments (e.g. ["-S", "log"])
      env          extra environment variables
      workdir      use this directory instead of a new one (it is not removed)
      wait_ready   wait for "all children ready" on entry (default True)
      hide_kmsg    run agentd in a private mount namespace where /dev/kmsg is
                   /dev/null, so it never sees the kernel's seccomp records
      host_root    run agentd as in the supervisor container: no -c or -r, the
                   device's files under this fake host root (AGENTD_HOST_ROOT):
                   config.json in <root>/mnt/boot, the run dir <root>/tmp/balena-supervisor
      prefix       a command agentd runs under, which execs it (ip netns exec NS)
    Attributes: dir, port, pid, proc, log_path, datadir, config_path, sock_path.
    """

    def __init__(self, test_build=False, settings=None, config=None, args=(), env=None,
                 workdir=None, wait_ready=True, address="127.0.0.1", hide_kmsg=False,
                 host_root=None, prefix=()):
        self.test_build = test_build
        self.settings = settings
        self.config = config
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.workdir = workdir
        self.wait_ready_on_enter = wait_ready
        self.address = address
        self.hide_kmsg = hide_kmsg
        self.host_root = host_root
        self.prefix = list(prefix)
        self.proc = None
        self.pid = None
        self._seen = {}  # pid -> (name, starttime) of every child ever observed
        self._own_dir = False

    # ---- life cycle

    def __enter__(self):
        try:
            self.start()
            if self.wait_ready_on_enter:
                self.wait_ready()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def start(self):
        exe = binary(self.test_build)
        if self.workdir is None:
            self.dir = make_tmpdir()
            self._own_dir = True
        else:
            self.dir = self.workdir
        self.datadir = os.path.join(self.dir, "data")
        self.rundir = os.path.join(self.dir, "run")
        self.sock_path = os.path.join(self.dir, "engine.sock")  # never created
        self.config_path = os.path.join(self.dir, "config.json")
        self.port = free_port()
        config = self.config if self.config is not None else {"listenPort": self.port}
        if self.host_root is not None:
            boot = os.path.join(self.host_root, "mnt", "boot")
            os.makedirs(boot, exist_ok=True)
            self.config_path = os.path.join(boot, "config.json")
            self.rundir = os.path.join(self.host_root, "tmp", "balena-supervisor")
            self.extra_env.setdefault("AGENTD_HOST_ROOT", self.host_root)
        write_json(self.config_path, config)
        argv = [exe, "-f", "-d", self.datadir, "-s", self.sock_path, "-a", self.address]
        if self.host_root is None:
            argv += ["-c", self.config_path, "-r", self.rundir]
        if self.settings is not None:
            self.settings_path = write_json(os.path.join(self.dir, "agentd.json"), self.settings)
            argv += ["-C", self.settings_path]
        argv += self.args
        argv = self.prefix + argv
        self.argv = argv
        # One log file per start, so that a second agentd in the same
        # workdir does not see the first one's lines.
        n = 0
        while os.path.exists(os.path.join(self.dir, "agentd.%d.log" % n)):
            n += 1
        self.log_path = os.path.join(self.dir, "agentd.%d.log" % n)
        self._log_f = open(self.log_path, "wb")
        self._out_f = open(os.path.join(self.dir, "stdout.%d.log" % n), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out_f,
                                     stderr=self._log_f, env=base_env(self.extra_env),
                                     close_fds=True,
                                     preexec_fn=_hide_kmsg if self.hide_kmsg else None)
        self.pid = self.proc.pid
        return self

    def wait_ready(self, timeout=15):
        self.wait_log(r"^agentd: all children ready$", timeout)
        wait_until(lambda: set(self.children()) == set(DAEMONS), timeout,
                   what="the three children to be running")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Send sig to agentd and wait for it to exit; returns its exit status."""
        self.children()  # record the current children for the cleanup
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout * SCALE)
        except subprocess.TimeoutExpired:
            raise AssertionError("agentd did not exit within %gs of signal %d"
                                 % (timeout * SCALE, sig))

    def __exit__(self, *exc):
        try:
            if self.proc is not None:
                if self.proc.poll() is None:
                    self.children()
                    self.proc.send_signal(signal.SIGTERM)
                    try:
                        self.proc.wait(10)
                    except subprocess.TimeoutExpired:
                        if self.proc.poll() is None:
                            os.kill(self.pid, signal.SIGKILL)  # our own pid only
                        self.proc.wait(10)
                for pid, (_name, start) in self._seen.items():
                    if alive(pid, start):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        finally:
            for f in ("_log_f", "_out_f"):
                if hasattr(self, f):
                    getattr(self, f).close()
            if self._own_dir and not KEEP_TMP:
                shutil.rmtree(self.dir, ignore_errors=True)
        return False

    # ---- processes

    def child_procs(self):
        """[(pid, name, state)] of every process whose parent is agentd, zombies too."""
        if self.pid is None:
            return []
        procs = processes_with_parent(self.pid)
        for pid, name, state in procs:
            if state != "Z" and pid not in self._seen:
                st = proc_stat(pid)
                if st is not None:
                    self._seen[pid] = (name, st["starttime"])
        return procs

    def children(self):
        """{name: pid} of agentd's live (non-zombie) children."""
        out = {}
        for pid, name, state in self.child_procs():
            if state != "Z":
                out[name] = pid
        return out

    def seen_children(self):
        """{pid: (name, starttime)} of every child observed so far."""
        self.children()
        return dict(self._seen)

    def wait_new_child(self, name, old_pid, timeout=10):
        """Wait for a live child called name whose pid is not old_pid; return its pid."""
        def new_pid():
            pid = self.children().get(name)
            return pid if pid is not None and pid != old_pid else None
        return wait_until(new_pid, timeout, what="a new %s (old pid %d)" % (name, old_pid))

    def wait_child_ready(self, name, old_pid, since=0, timeout=10):
        """Wait for a replacement of `name` and for agentd to log it ready; return its pid."""
        pid = self.wait_new_child(name, old_pid, timeout)
        self.wait_log(r"^agentd: %s: ready \(pid %d\)$" % (re.escape(name), pid), timeout,
                      since=since)
        return pid

    # ---- log

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def mark(self):
        """Offset of the end of the log now, for wait_log(since=...)."""
        return len(self.log())

    def log_tail(self, n=15):
        return " | ".join(self.log().splitlines()[-n:])

    def wait_log(self, pattern, timeout=10, since=0):
        """Wait until the log (from offset `since`) matches the regex (multiline);
        return the match. Fails at once if agentd exits without the match."""
        rx = re.compile(pattern, re.M)

        def check():
            exited = self.proc.poll() is not None
            m = rx.search(self.log(), since)
            if m is None and exited:
                # Everything agentd will ever write is in the file now.
                m = rx.search(self.log(), since)
                if m is None:
                    raise AssertionError("agentd exited (status %s) without logging /%s/; "
                                         "log: %s" % (self.proc.returncode, pattern,
                                                      self.log_tail()))
            return m
        try:
            return wait_until(check, timeout, what="log line /%s/" % pattern)
        except AssertionError as e:
            if "exited" in str(e):
                raise
            raise AssertionError("%s; log: %s" % (e, self.log_tail())) from None

    # ---- HTTP

    def http(self, method, path, body=None, headers=None, timeout=5.0):
        """(status, body) of one request to apid on 127.0.0.1:port."""
        return http_request(self.port, method, path, body, headers, timeout)

    def try_http(self, method, path, body=None):
        """Like http() but None instead of a connection error."""
        try:
            return self.http(method, path, body, timeout=2.0)
        except (OSError, http.client.HTTPException):
            return None

    def wait_http(self, method, path, expect, timeout=10):
        """Wait until a request answers `expect` ((status, body) or status); return it."""
        def check():
            r = self.try_http(method, path)
            if r is None:
                return None
            ok = r == expect if isinstance(expect, tuple) else r[0] == expect
            return r if ok else None
        return wait_until(check, timeout, what="%s %s to answer %r" % (method, path, expect))


# --------------------------------------------------------------------------- one-shot runs


def run_reaped(argv, env=None, timeout=10, stderr_path=None):
    """Run argv to completion under a child-subreaper helper.

    Returns {"rc": exit status (or None if it had to be killed after timeout),
    "stderr": its stderr text, "descendants": [[pid, comm, state], ...] of any
    process it left behind (each was killed)}."""
    own = stderr_path is None
    if own:
        fd, stderr_path = tempfile.mkstemp(prefix="ad.err.", dir="/tmp")
        os.close(fd)
    try:
        spec = {"argv": argv, "env": base_env(env), "timeout": timeout * SCALE,
                "stderr": stderr_path}
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--reaped"],
                             input=json.dumps(spec).encode(), stdout=subprocess.PIPE,
                             timeout=timeout * SCALE + 30, check=True).stdout
        res = json.loads(out)
        with open(stderr_path, "rb") as f:
            res["stderr"] = f.read().decode("utf-8", "replace")
        return res
    finally:
        if own:
            os.unlink(stderr_path)


def _reaped_main():
    """The helper behind run_reaped(): becomes a subreaper, runs the command,
    then finds, kills and reaps whatever the command left behind."""
    spec = json.loads(sys.stdin.read())
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    signal.alarm(int(spec["timeout"]) + 20)  # never hang
    with open(spec["stderr"], "wb") as err:
        p = subprocess.Popen(spec["argv"], env=spec["env"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            rc = p.wait(spec["timeout"])
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
    left = processes_with_parent(os.getpid())
    for pid, _comm, state in left:
        if state != "Z":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    known = {pid for pid, _c, _s in left}
    while True:
        try:
            pid, _status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except OSError as e:
            if e.errno == errno.EINTR:
                continue
            raise
        if pid not in known:
            left.append((pid, "?", "reaped"))
    sys.stdout.write(json.dumps({"rc": rc, "descendants": left}))


if __name__ == "__main__" and sys.argv[1:] == ["--reaped"]:
    _reaped_main()

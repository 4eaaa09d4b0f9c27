"""test_hostctl.py - agentd's host control over D-Bus (agentd/device/hostctl.c).

hostctl-drive (test/tools/hostctl-drive.c, from $AGENTD_BUILD) makes hostctl's calls on
a private system bus that test/harness/dbus-mock.py runs with python-dbusmock's logind
and systemd templates on it; the mocks record every call, and the tests ask them what
reached them. Nothing here talks to the machine's own buses. Every process a test starts
is stopped by its pid (the harness stops its own bus and mocks when its input ends).
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time

import lib

HARNESS = os.path.join(lib.REPO, "test", "harness", "dbus-mock.py")
# The harness needs the Debian python3 (python3-dbus, -gi, -dbusmock), whatever python3
# runs the suite.
SYSTEM_PYTHON = os.environ.get("AGENTD_DBUS_PYTHON") or "/usr/bin/python3"
UNITS = ("openvpn.service", "avahi-daemon.service", "avahi-daemon.socket",
         "balena-proxy-config.service", "redsocks.service")


def drive_binary():
    path = os.path.join(lib.BUILD, "hostctl-drive")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s not found: run 'make BUILD=%s %s' first"
                             % (path, os.path.relpath(lib.BUILD, lib.REPO), path))
    return path


class DbusMock:
    """The harness as a context manager: .address, .cmd(cmd=..., ...)."""

    def __enter__(self):
        ok = subprocess.run([SYSTEM_PYTHON, "-c", "import dbus, dbusmock"],
                            capture_output=True)
        if ok.returncode != 0:
            raise AssertionError("%s cannot import dbusmock: apt-get install python3-dbusmock "
                                 "dbus (make deps)" % SYSTEM_PYTHON)
        self.dir = lib.make_tmpdir()
        self.proc = None
        self._buf = b""
        try:
            self._err = open(os.path.join(self.dir, "harness.err"), "wb")
            self.proc = subprocess.Popen([SYSTEM_PYTHON, HARNESS, os.path.join(self.dir, "bus")],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._err, close_fds=True)
            self.address = self._readline(30, "the harness's bus address")
            if not self.address.startswith("unix:path="):
                raise AssertionError("the harness did not start: %s" % self._stderr())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _stderr(self):
        with open(os.path.join(self.dir, "harness.err"), errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-5:])

    def _readline(self, timeout, what):
        deadline = time.monotonic() + timeout * lib.SCALE
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for %s" % what)
            if select.select([fd], [], [], left)[0]:
                data = os.read(fd, 65536)
                if not data:
                    raise AssertionError("the harness exited before %s: %s"
                                         % (what, self._stderr()))
                self._buf += data
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode()

    def cmd(self, timeout=15, **c):
        self.proc.stdin.write((json.dumps(c) + "\n").encode())
        self.proc.stdin.flush()
        out = json.loads(self._readline(timeout, "the answer to %s" % c))
        assert out.get("ok"), "harness command %s failed: %s" % (c, out.get("error"))
        return out

    def calls(self, mock, method):
        return self.cmd(cmd="calls", mock=mock, method=method)["calls"]

    def __exit__(self, *exc):
        if self.proc is not None:
            try:
                self.proc.stdin.close()  # end of input: the harness stops what it started
            except OSError:
                pass
            try:
                self.proc.wait(20 * lib.SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # our own unreaped child: the pid is still ours
                self.proc.wait()
            self.proc.stdout.close()
        if getattr(self, "_err", None) is not None:
            self._err.close()
        if not lib.KEEP_TMP:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


def drive(address, *calls, timeout=40):
    """Run hostctl-drive to the end: (exit status, stdout lines, stderr)."""
    p = subprocess.run([drive_binary(), address] + list(calls), capture_output=True, text=True,
                       timeout=timeout * lib.SCALE, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout.splitlines(), p.stderr


class Drive:
    """hostctl-drive in the background, for calls a test interferes with."""

    def __init__(self, address, *calls):
        self.proc = subprocess.Popen([drive_binary(), address] + list(calls),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, close_fds=True)

    def finish(self, timeout=30):
        out, err = self.proc.communicate(timeout=timeout * lib.SCALE)
        return self.proc.returncode, out.splitlines(), err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()  # our own unreaped child
            self.proc.communicate()
        return False


def test_hostctl_reboot_and_poweroff_reach_logind_without_interaction():
    with DbusMock() as m:
        assert drive(m.address, "reboot")[:2] == (0, ["ok"])
        assert m.calls("logind", "Reboot") == [[False]]
        assert m.calls("logind", "PowerOff") == []
        assert drive(m.address, "poweroff")[:2] == (0, ["ok"])
        assert m.calls("logind", "PowerOff") == [[False]]
        assert m.calls("logind", "Reboot") == [[False]]


def test_hostctl_start_stop_restart_reach_systemd_in_fail_mode():
    with DbusMock() as m:
        calls = []
        for unit in UNITS:
            calls += ["start", unit, "stop", unit, "restart", unit]
        rc, out, err = drive(m.address, *calls)
        assert (rc, out) == (0, ["ok"] * len(UNITS) * 3), (rc, out, err)
        for method in ("StartUnit", "StopUnit", "RestartUnit"):
            assert m.calls("systemd", method) == [[u, "fail"] for u in UNITS], method


def test_hostctl_active_state_follows_start_stop_and_restart():
    with DbusMock() as m:
        u = "openvpn.service"
        rc, out, err = drive(m.address, "state", u, "start", u, "state", u, "stop", u,
                             "state", u, "restart", u, "state", u)
        assert rc == 0, (out, err)
        assert out == ["ok inactive", "ok", "ok active", "ok", "ok inactive", "ok",
                       "ok active"], out
        # Another unit was not touched.
        assert drive(m.address, "state", "avahi-daemon.socket")[1] == ["ok inactive"]


def test_hostctl_part_of_reads_as_a_space_joined_list():
    with DbusMock() as m:
        m.cmd(cmd="unit", name="two.service", part_of=["a.target", "b.target"])
        rc, out, err = drive(m.address, "partof", "redsocks.service",
                             "partof", "balena-proxy-config.service", "partof", "two.service")
        assert rc == 0, (out, err)
        assert out == ["ok redsocks-conf.target", "ok ", "ok a.target b.target"], out


def test_hostctl_unit_systemd_has_not_loaded_fails_with_its_message():
    # The balena supervisor tells "VPN unit missing" from other failures by this text.
    with DbusMock() as m:
        rc, out, _ = drive(m.address, "state", "nosuch.service", "state", "openvpn.service")
        assert rc == 1
        assert out == ["error Unit nosuch.service not loaded.", "ok inactive"], out


def test_hostctl_refused_call_gives_the_dbus_error_message():
    with DbusMock() as m:
        m.cmd(cmd="fail", mock="logind", method="Reboot",
              error="org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
              message="Interactive authentication required.")
        m.cmd(cmd="fail", mock="systemd", method="StartUnit",
              error="org.freedesktop.systemd1.UnitMasked",
              message="Unit openvpn.service is masked.")
        rc, out, err = drive(m.address, "reboot", "start", "openvpn.service", "poweroff")
        assert rc == 1, (out, err)
        assert out == ["error Interactive authentication required.",
                       "error Unit openvpn.service is masked.", "ok"], out
        assert m.calls("logind", "Reboot") == [[False]]
        assert m.calls("systemd", "StartUnit") == [["openvpn.service", "fail"]]


def test_hostctl_open_where_no_bus_listens_is_a_clear_error():
    d = lib.make_tmpdir()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        missing = "unix:path=%s/system_bus_socket" % d
        rc, out, _ = drive(missing, "reboot")
        assert rc == 1
        assert out == ["error cannot connect to the host's D-Bus at %s: No such file or directory"
                       % missing], out
        # A socket file nobody listens on.
        s.bind(os.path.join(d, "dead_socket"))
        dead = "unix:path=%s/dead_socket" % d
        rc, out, _ = drive(dead, "state", "openvpn.service")
        assert rc == 1
        assert out == ["error cannot connect to the host's D-Bus at %s: Connection refused"
                       % dead], out
    finally:
        s.close()
        shutil.rmtree(d, ignore_errors=True)


def test_hostctl_bus_dying_mid_call_fails_it_and_later_calls_fast():
    with DbusMock() as m:
        m.cmd(cmd="hang", mock="systemd", method="RestartUnit")
        with Drive(m.address, "restart", "redsocks.service", "state", "redsocks.service",
                   "reboot") as d:
            m.cmd(cmd="wait-call", mock="systemd", method="RestartUnit", timeout=20)
            m.cmd(cmd="kill-bus")
            rc, out, err = d.finish()
        assert rc == 1, (out, err)
        assert len(out) == 3, out
        assert out[0].startswith("error lost the host's D-Bus ("), out
        assert out[1].startswith("error the host's D-Bus is gone ("), out
        assert out[2].startswith("error the host's D-Bus is gone ("), out
        lost = [line for line in err.splitlines() if "lost the host's D-Bus at" in line]
        assert len(lost) == 1, err  # said once in the log


def test_hostctl_close_fails_the_call_in_flight_once():
    with DbusMock() as m:
        m.cmd(cmd="hang", mock="logind", method="PowerOff")
        with Drive(m.address, "poweroff", "state", "openvpn.service") as d:
            m.cmd(cmd="wait-call", mock="logind", method="PowerOff", timeout=20)
            d.proc.send_signal(signal.SIGUSR1)  # hostctl-drive closes hostctl
            rc, out, err = d.finish()
        # One answer to the call in flight, and no call after the close.
        assert (rc, out) == (1, ["error hostctl closed"]), (rc, out, err)
        assert m.calls("systemd", "GetUnit") == []

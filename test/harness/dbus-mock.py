#!/usr/bin/python3
"""dbus-mock.py - a private system bus with mock logind and systemd on it, for the
tests of agentd's host control (agentd/device/hostctl.c).

Usage: /usr/bin/python3 test/harness/dbus-mock.py DIR

Runs with the Debian python3 (it needs python3-dbus, python3-gi, python3-dbusmock).
Starts, all as its own children and all under DIR (created if missing; keep its path
short, it holds a unix socket):
  - dbus-daemon --nofork with its own config file DIR/bus.conf, listening only on
    DIR/system_bus_socket, open to every uid;
  - python-dbusmock's `logind` template (org.freedesktop.login1, log DIR/logind.log);
  - python-dbusmock's `systemd` template (org.freedesktop.systemd1, log DIR/systemd.log),
    to which this adds what the template lacks: RestartUnit (unit -> active), a GetUnit
    that fails as systemd does ("Unit NAME not loaded.", org.freedesktop.systemd1.NoSuchUnit),
    the PartOf property of units, and the units agentd drives: openvpn.service,
    avahi-daemon.service, avahi-daemon.socket, balena-proxy-config.service (PartOf
    nothing) and redsocks.service (PartOf redsocks-conf.target), all inactive.
The template's StartUnit/StopUnit set a unit's ActiveState to active/inactive. Both mocks
record every call (dbusmock's GetMethodCalls).

The mocks get DBUS_SYSTEM_BUS_ADDRESS (and DBUS_SESSION_BUS_ADDRESS) set to the private
bus: nothing here ever connects to the machine's own buses.

stdout: first the bus address ("unix:path=DIR/system_bus_socket"), then one JSON answer
per command. stdin: one JSON command per line:
  {"cmd": "calls", "mock": "logind"|"systemd", "method": "Reboot"}
        -> {"ok": true, "calls": [[arg, ...], ...]}  (the method's calls, oldest first)
  {"cmd": "unit", "name": "x.service", "part_of": ["a.target"], "active": "inactive"}
        adds a unit to the systemd mock
  {"cmd": "fail", "mock": M, "method": NAME, "error": "org.x.Error", "message": "text"}
        the method now answers that D-Bus error
  {"cmd": "hang", "mock": M, "method": NAME}
        the method never answers (the mock blocks in it; it answers nothing else either)
  {"cmd": "wait-call", "mock": M, "method": NAME, "timeout": 10}
        returns once the mock's log shows a call of NAME (works while the mock hangs)
  {"cmd": "kill-bus"}    stops dbus-daemon (SIGTERM) and waits for it: the bus dies
  {"cmd": "pids"}        -> {"ok": true, "pids": {"dbus-daemon": N, "logind": N, ...}}
  {"cmd": "quit"}
A failed command answers {"ok": false, "error": "..."}. On end of input, "quit", SIGTERM,
SIGINT or SIGHUP, every process it started is stopped by its pid (SIGTERM, SIGKILL after
5 s) and reaped, and the files it made in DIR are removed. Exit status 0, or 1 when the
bus could not be set up (the reason on stderr).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

try:
    import dbus
except ImportError:
    sys.exit("dbus-mock: %s lacks python3-dbus: apt-get install python3-dbusmock" % sys.executable)

MOCK_IFACE = "org.freedesktop.DBus.Mock"
MOCKS = {  # name -> (bus name, main object, main interface)
    "logind": ("org.freedesktop.login1", "/org/freedesktop/login1",
               "org.freedesktop.login1.Manager"),
    "systemd": ("org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager"),
}
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SIGNATURES = {  # (mock, method) -> (in, out), for "fail" and "hang"
    ("logind", "Reboot"): ("b", ""),
    ("logind", "PowerOff"): ("b", ""),
    ("systemd", "StartUnit"): ("ss", "o"),
    ("systemd", "StopUnit"): ("ss", "o"),
    ("systemd", "RestartUnit"): ("ss", "o"),
    ("systemd", "GetUnit"): ("s", "o"),
}
DEFAULT_UNITS = (
    ("openvpn.service", []),
    ("avahi-daemon.service", []),
    ("avahi-daemon.socket", []),
    ("balena-proxy-config.service", []),
    ("redsocks.service", ["redsocks-conf.target"]),
)
START_TIMEOUT_S = 20

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>agentd-test</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""

# The systemd template's GetUnit raises a Python KeyError for an unknown unit; systemd
# answers NoSuchUnit "Unit NAME not loaded." (what the balena supervisor looks for).
GET_UNIT = """
name = str(args[0])
if name not in self.units:
    raise dbus.exceptions.DBusException('Unit %s not loaded.' % name,
                                        name='org.freedesktop.systemd1.NoSuchUnit')
ret = self.units[name]
"""
# The template has no RestartUnit: like its StartUnit, the unit ends up active.
RESTART_UNIT = """
name = str(args[0])
if name not in self.units:
    raise dbus.exceptions.DBusException('Unit %s not found.' % name,
                                        name='org.freedesktop.systemd1.NoSuchUnit')
objects[self.units[name]].UpdateProperties('org.freedesktop.systemd1.Unit',
                                           {'ActiveState': 'active'})
self.next_job_id += 1
ret = '/org/freedesktop/systemd1/job/%d' % self.next_job_id
"""


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop()


def unit_path(name):
    # The path the systemd template gives a unit (its escape_unit_name()).
    return "/org/freedesktop/systemd1/unit/" + name.replace(".", "_").replace("-", "_")


def plain(v):
    """A D-Bus value as plain JSON-able Python."""
    if isinstance(v, dbus.Boolean):
        return bool(v)
    if isinstance(v, (dbus.Array, dbus.Struct, list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (dbus.Dictionary, dict)):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (dbus.String, dbus.ObjectPath, dbus.Signature, str)):
        return str(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, int):
        return int(v)
    return str(v)


class Harness:
    def __init__(self, d):
        self.dir = os.path.abspath(d)
        self.sock = os.path.join(self.dir, "system_bus_socket")
        self.address = "unix:path=" + self.sock
        self.procs = {}  # name -> Popen, in start order
        self.files = []
        self.conn = None

    def path(self, name):
        p = os.path.join(self.dir, name)
        self.files.append(p)
        return p

    # ---- start

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        if len(self.sock) > 107:
            raise RuntimeError("DIR is too long for a unix socket: " + self.dir)
        if os.path.exists(self.sock):
            raise RuntimeError("%s exists: is another bus running there?" % self.sock)
        conf = self.path("bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF % self.sock)
        self.files.append(self.sock)
        err = open(self.path("dbus-daemon.err"), "wb")
        bus = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile", "--nosyslog",
                                "--config-file=" + conf, "--print-address=1"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                               close_fds=True)
        err.close()
        self.procs["dbus-daemon"] = bus
        line = bus.stdout.readline().decode().strip()  # written once it listens
        if not line:
            raise RuntimeError("dbus-daemon did not start: " + self.tail("dbus-daemon.err"))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "DBUS_SYSTEM_BUS_ADDRESS": self.address,
               "DBUS_SESSION_BUS_ADDRESS": self.address}
        for name in MOCKS:
            out = open(self.path(name + ".err"), "wb")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "dbusmock", "--system", "-t", name,
                 "-l", self.path(name + ".log")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, close_fds=True)
            out.close()
        self.conn = dbus.bus.BusConnection(self.address)
        self.conn.set_exit_on_disconnect(False)
        deadline = time.monotonic() + START_TIMEOUT_S
        for name, (busname, _, _) in MOCKS.items():
            while not self.conn.name_has_owner(busname):
                if self.procs[name].poll() is not None:
                    raise RuntimeError("the %s mock exited: %s" % (name, self.tail(name + ".err")))
                if time.monotonic() > deadline:
                    raise RuntimeError("the %s mock did not claim %s within %d s"
                                       % (name, busname, START_TIMEOUT_S))
                time.sleep(0.05)
        self.add_method("systemd", "GetUnit", "s", "o", GET_UNIT)
        self.add_method("systemd", "RestartUnit", "ss", "o", RESTART_UNIT)
        for name, part_of in DEFAULT_UNITS:
            self.add_unit(name, part_of, None)

    def tail(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return " | ".join(f.read().strip().splitlines()[-5:]) or "(no output)"
        except OSError:
            return "(no output)"

    def mock(self, name, path=None):
        if name not in MOCKS:
            raise ValueError("no mock named %r" % name)
        busname, main, _ = MOCKS[name]
        return self.conn.get_object(busname, path or main, introspect=False)

    def add_method(self, mock, method, in_sig, out_sig, code):
        self.mock(mock).AddMethod(MOCKS[mock][2], method, in_sig, out_sig, code,
                                  dbus_interface=MOCK_IFACE)

    def add_unit(self, name, part_of, active):
        self.mock("systemd").AddMockUnit(name, dbus_interface=MOCK_IFACE)
        unit = self.mock("systemd", unit_path(name))
        unit.AddProperty(UNIT_IFACE, "PartOf", dbus.Array(part_of or [], signature="s"),
                         dbus_interface=MOCK_IFACE)
        if active:
            unit.UpdateProperties(UNIT_IFACE, {"ActiveState": active},
                                  dbus_interface=MOCK_IFACE)

    # ---- commands

    def signature(self, c):
        key = (c["mock"], c["method"])
        if "in" in c:
            return c["in"], c.get("out", "")
        if key not in SIGNATURES:
            raise ValueError("say the signature of %s.%s with \"in\" and \"out\"" % key)
        return SIGNATURES[key]

    def command(self, c):
        cmd = c.get("cmd")
        if cmd == "calls":
            calls = self.mock(c["mock"]).GetMethodCalls(c["method"], dbus_interface=MOCK_IFACE)
            return {"calls": [plain(args) for _, args in calls]}
        if cmd == "unit":
            self.add_unit(c["name"], c.get("part_of"), c.get("active"))
            return {}
        if cmd == "fail":
            in_sig, out_sig = self.signature(c)
            code = "raise dbus.exceptions.DBusException(%r, name=%r)" % (
                c.get("message", "refused by the test"),
                c.get("error", "org.freedesktop.DBus.Error.AccessDenied"))
            self.add_method(c["mock"], c["method"], in_sig, out_sig, code)
            return {}
        if cmd == "hang":
            in_sig, out_sig = self.signature(c)
            self.add_method(c["mock"], c["method"], in_sig, out_sig, "time.sleep(3600)")
            return {}
        if cmd == "wait-call":
            self.wait_call(c["mock"], c["method"], float(c.get("timeout", 10)))
            return {}
        if cmd == "kill-bus":
            self.stop("dbus-daemon")
            return {}
        if cmd == "pids":
            return {"pids": {n: p.pid for n, p in self.procs.items() if p.poll() is None}}
        raise ValueError("unknown command %r" % cmd)

    def wait_call(self, mock, method, timeout):
        pattern = re.compile(r"^[0-9.]+ %s\b" % re.escape(method), re.M)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(os.path.join(self.dir, mock + ".log"), errors="replace") as f:
                    if pattern.search(f.read()):
                        return
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no call of %s reached the %s mock within %g s"
                                   % (method, mock, timeout))
            time.sleep(0.02)

    # ---- stop

    def stop(self, name):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)  # p is our unreaped child: its pid is still ours
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def teardown(self):
        # Signals from here on would interrupt the cleanup: it finishes first.
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        for name in reversed(list(self.procs)):
            self.stop(name)
        for p in self.procs.values():
            if p.stdout is not None:
                p.stdout.close()
        for f in self.files:
            try:
                os.unlink(f)
            except OSError:
                pass
        try:
            os.rmdir(self.dir)  # only if it is left empty
        except OSError:
            pass


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: dbus-mock.py DIR\n")
        return 2
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    h = Harness(sys.argv[1])
    try:
        try:
            h.start()
        except (RuntimeError, OSError, dbus.exceptions.DBusException) as e:
            sys.stderr.write("dbus-mock: %s\n" % e)
            return 1
        sys.stdout.write(h.address + "\n")
        sys.stdout.flush()
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                c = json.loads(line)
                if c.get("cmd") == "quit":
                    reply({"ok": True})
                    break
                out = h.command(c)
                out["ok"] = True
            except (ValueError, KeyError, RuntimeError, dbus.exceptions.DBusException) as e:
                out = {"ok": False, "error": " ".join(str(e).split())}
            reply(out)
    except (Stop, KeyboardInterrupt):
        pass
    finally:
        h.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""test_host_control.py - agentd controls the host as the balena supervisor does
(issue 11): reboot and shutdown through logind, the VPN and discoverability units
following SUPERVISOR_VPN_CONTROL and HOST_DISCOVERABILITY, the proxy units after a
host-config change (all on a private bus with python-dbusmock's logind and systemd,
test/harness/dbus-mock.py; never the machine's own), the configured commands when
there is no bus, and the host firewall in a network namespace the test makes."""
import json
import os
import shutil
import subprocess

import lib
from test_hostctl import DbusMock


def post_target(ad, config):
    t = {"local": {"name": "hostctl", "config": dict(config, SUPERVISOR_LOCAL_MODE="true"),
                   "apps": {}}}
    st, body = ad.http("POST", "/v2/local/target-state", json.dumps(t),
                       {"Content-Type": "application/json"})
    assert st == 200, body


def wait_calls(m, mock, method, want, what):
    return lib.wait_until(lambda: m.calls(mock, method) == want, 20, what=what)


def test_reboot_and_shutdown_go_to_logind_on_the_hosts_bus():
    with DbusMock() as m, lib.Agentd(env={"DBUS_SYSTEM_BUS_ADDRESS": m.address}) as ad:
        ad.wait_log(r"host control through the host's D-Bus at %s" % m.address)
        st, body = ad.http("POST", "/v1/reboot")
        assert (st, json.loads(body)) == (202, {"Data": "OK", "Error": None}), body
        wait_calls(m, "logind", "Reboot", [[False]], "logind's Reboot(false)")
        ad.wait_log(r"rebooting through logind on the host's D-Bus")
        assert ad.http("POST", "/v1/shutdown")[0] == 202
        wait_calls(m, "logind", "PowerOff", [[False]], "logind's PowerOff(false)")
        assert "systemctl" not in ad.log()


def test_a_logind_that_refuses_is_a_clear_line_and_agentd_keeps_serving():
    with DbusMock() as m, lib.Agentd(env={"DBUS_SYSTEM_BUS_ADDRESS": m.address}) as ad:
        m.cmd(cmd="fail", mock="logind", method="Reboot",
              error="org.freedesktop.DBus.Error.AccessDenied", message="Permission denied.")
        assert ad.http("POST", "/v1/reboot")[0] == 202
        ad.wait_log(r"The reboot or shutdown command failed \(logind: Permission denied\.\): "
                    r"the device stays up", 20)
        assert ad.http("GET", "/ping") == (200, "OK")


def test_vpn_and_discoverability_follow_the_device_config():
    with DbusMock() as m, lib.Agentd(env={"DBUS_SYSTEM_BUS_ADDRESS": m.address}) as ad:
        # both default to on: started once agentd runs
        wait_calls(m, "systemd", "StartUnit",
                   [["openvpn.service", "fail"], ["avahi-daemon.service", "fail"],
                    ["avahi-daemon.socket", "fail"]], "the VPN and avahi started")
        assert json.loads(ad.http("GET", "/v2/device/vpn")[1])["vpn"]["enabled"] is True
        post_target(ad, {"SUPERVISOR_VPN_CONTROL": "false", "HOST_DISCOVERABILITY": "false"})
        wait_calls(m, "systemd", "StopUnit",
                   [["openvpn.service", "fail"], ["avahi-daemon.service", "fail"],
                    ["avahi-daemon.socket", "fail"]], "the VPN and avahi stopped")
        lib.wait_until(lambda: json.loads(ad.http("GET", "/v2/device/vpn")[1])["vpn"]
                       ["enabled"] is False, 10, what="the VPN reported off")
        # the same target again asks nothing more of the host
        post_target(ad, {"SUPERVISOR_VPN_CONTROL": "false", "HOST_DISCOVERABILITY": "false"})
        assert ad.http("GET", "/ping")[0] == 200
        assert len(m.calls("systemd", "StopUnit")) == 3 and \
            len(m.calls("systemd", "StartUnit")) == 3


def test_a_proxy_change_restarts_the_proxy_units_that_are_not_part_of_its_target():
    with lib.TempDir() as d, DbusMock() as m:
        boot = os.path.join(d, "boot")
        os.mkdir(boot)
        with lib.Agentd(env={"DBUS_SYSTEM_BUS_ADDRESS": m.address},
                        settings={"boot_dir": boot}) as ad:
            body = {"network": {"proxy": {"type": "socks5", "ip": "10.9.8.7", "port": 1080}}}
            st, text = ad.http("PATCH", "/v1/device/host-config", json.dumps(body),
                               {"Content-Type": "application/json"})
            assert (st, text) == (200, "OK"), (st, text)
            wait_calls(m, "systemd", "RestartUnit", [["balena-proxy-config.service", "fail"]],
                       "balena-proxy-config restarted")
            # redsocks is PartOf redsocks-conf.target in the mock, as on balenaOS:
            # the OS restarts it itself
            lib.wait_until(lambda: len(m.calls("systemd", "GetUnit")) >= 2, 10,
                           what="redsocks looked at")
            assert m.calls("systemd", "RestartUnit") == \
                [["balena-proxy-config.service", "fail"]]


def test_without_a_bus_the_commands_run_and_the_log_says_so():
    with lib.TempDir() as d:
        flag = os.path.join(d, "rebooted")
        settings = {"reboot_command": ["sh", "-c", "echo yes > " + flag]}
        env = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(d, "no-bus")}
        with lib.Agentd(env=env, settings=settings) as ad:
            ad.wait_log(r"host D-Bus unix:path=.*no-bus: .*; reboot and shutdown run 'sh'")
            assert ad.http("POST", "/v1/reboot")[0] == 202
            lib.wait_until(lambda: os.path.exists(flag), 10, what="the reboot command run")


# --- the host firewall, inside a network namespace of the test's own ------------

def ns_run(ns, *argv, check=True):
    p = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                       timeout=30)
    if check and p.returncode != 0:
        raise AssertionError("%s in %s: %s" % (argv, ns, p.stderr.strip()))
    return p.stdout


class Netns:
    def __enter__(self):
        self.name = "agentd-hc-%d" % os.getpid()
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        ns_run(self.name, "ip", "link", "set", "lo", "up")
        return self.name

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
        return False


def ns_http(ns, port, method, path, body=None):
    argv = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method,
            "http://127.0.0.1:%d%s" % (port, path)]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = ns_run(ns, *argv, check=False)
    text, _, code = out.rpartition("\n")
    return int(code or 0), text


def chain(ns):
    return ns_run(ns, "iptables", "-S", "BALENA-FIREWALL", check=False)


def test_the_host_firewall_follows_host_firewall_mode():
    for tool in ("ip", "iptables", "iptables-restore", "curl"):
        if shutil.which(tool) is None:
            raise AssertionError("%s not found: make deps installs it" % tool)
    with Netns() as ns:
        ad = lib.Agentd(settings={"host_firewall": True}, wait_ready=False,
                        prefix=["ip", "netns", "exec", ns])
        with ad:
            ad.wait_log(r"agentd: all children ready", 15)
            lib.wait_until(lambda: "-A BALENA-FIREWALL -j RETURN" in chain(ns), 15,
                           what="the chain in mode off (the default)")
            assert "-A INPUT -j BALENA-FIREWALL" in ns_run(ns, "iptables", "-S", "INPUT")
            st, _ = ns_http(ns, ad.port, "POST", "/v2/local/target-state",
                            {"local": {"name": "fw", "config": {
                                "SUPERVISOR_LOCAL_MODE": "false", "HOST_FIREWALL_MODE": "on"},
                                "apps": {}}})
            assert st == 200
            lib.wait_until(lambda: "-j RETURN" not in chain(ns) and
                           "-A BALENA-FIREWALL -j REJECT" in chain(ns), 15,
                           what="the chain in mode on")
            # the API on the namespace's loopback is still reachable
            assert ns_http(ns, ad.port, "GET", "/ping") == (200, "OK")
        assert "BALENA-FIREWALL" in chain(ns)  # agentd leaves the host's rules in place


def test_a_failing_iptables_is_a_clear_line_and_agentd_keeps_serving():
    with lib.TempDir() as d, Netns() as ns:
        bin_dir = os.path.join(d, "bin")
        os.mkdir(bin_dir)
        for name in ("iptables", "ip6tables", "iptables-restore", "ip6tables-restore"):
            path = os.path.join(bin_dir, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\necho 'iptables: permission denied (you must be root)' >&2\n"
                        "exit 4\n")
            os.chmod(path, 0o755)
        ad = lib.Agentd(settings={"host_firewall": True}, wait_ready=False,
                        env={"PATH": bin_dir + ":/usr/bin:/bin"},
                        prefix=["ip", "netns", "exec", ns])
        with ad:
            ad.wait_log(r"Firewall mode not applied: .*permission denied", 15)
            assert ns_http(ns, ad.port, "GET", "/ping") == (200, "OK")
            assert "BALENA-FIREWALL" not in ns_run(ns, "iptables", "-S", check=False)

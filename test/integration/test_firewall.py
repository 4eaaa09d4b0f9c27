"""The host firewall (agentd/device/firewall.c) in network namespaces this file
creates and deletes: $AGENTD_BUILD/firewall-apply applies it as agentd does,
`iptables -S` / `ip6tables -S` show the chain and INPUT's jump to it, and TCP
connections from a second namespace joined by a veth pair show what gets
through. Every iptables command runs inside one of these namespaces.
Needs root, iptables and iproute2 (`make deps` installs them)."""
import contextlib
import itertools
import os
import shutil
import subprocess

from lib import BUILD, TempDir, wait_until

CHAIN = "BALENA-FIREWALL"
API = 48484
SERVICE = 8080  # stands for a service on the host network
DEV4, PEER4 = "10.213.0.1", "10.213.0.2"
DEV6, PEER6 = "fd00:213::1", "fd00:213::2"
PROGRAMS = ("ip", "iptables", "ip6tables", "iptables-restore", "ip6tables-restore")

_names = itertools.count()

# Listens on every port of argv (IPv4 and IPv6), says "ready", accepts and
# closes connections until killed.
LISTENER = r"""
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        key.fileobj.accept()[0].close()
"""

# One TCP connect: prints "connected", "refused" (a REJECT) or "error ...".
PROBE = r"""
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.settimeout(10)
try:
    s.connect((addr, port))
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error %s" % e)
"""


def _run(argv, check=True):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit status %d: %s"
                             % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r


def _tool():
    """The firewall-apply tool, after checking the programs it needs."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        raise AssertionError("%s not found in PATH: run 'make deps' as root (installs "
                             "iptables iproute2)" % ", ".join(missing))
    path = os.path.join(BUILD, "firewall-apply")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s not found: run 'make BUILD=%s %s' first" % (path, BUILD, path))
    return path


class Netns:
    """A network namespace of this test with lo up; deleted on exit."""

    def __init__(self):
        self.name = "agentd-fw-%d-%d" % (os.getpid(), next(_names))

    def __enter__(self):
        _run(["ip", "netns", "add", self.name])
        try:
            self.ip("link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        _run(["ip", "netns", "del", self.name], check=False)
        return False

    def run(self, *argv, check=True):
        return _run(["ip", "netns", "exec", self.name] + list(argv), check)

    def ip(self, *args):
        return _run(["ip", "-n", self.name] + list(args))

    def rules(self, ipv6):
        return self.run("ip6tables" if ipv6 else "iptables", "-w", "-S").stdout.splitlines()


@contextlib.contextmanager
def pair():
    """Two namespaces, the device and a peer on its LAN, joined by a veth pair."""
    with Netns() as dev, Netns() as peer:
        dev.ip("link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
               "netns", peer.name)
        for ns, link, v4, v6 in ((dev, "veth0", DEV4, DEV6), (peer, "veth1", PEER4, PEER6)):
            ns.ip("addr", "add", v4 + "/24", "dev", link)
            ns.ip("addr", "add", v6 + "/64", "dev", link, "nodad")
            ns.ip("link", "set", link, "up")
        for ns, link in ((dev, "veth0"), (peer, "veth1")):
            wait_until(lambda: "LOWER_UP" in ns.ip("link", "show", link).stdout,
                       what="%s up in %s" % (link, ns.name))
        yield dev, peer


@contextlib.contextmanager
def listening(ns, *ports):
    """A TCP listener on `ports` in namespace `ns`, stopped on exit."""
    p = subprocess.Popen(["ip", "netns", "exec", ns.name, "python3", "-c", LISTENER]
                         + [str(port) for port in ports],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().strip()
        assert line == "ready", "listener in %s: %r %s" % (ns.name, line, p.stderr.read())
        yield
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()


def probe(ns, addr, port):
    return ns.run("python3", "-c", PROBE, addr, str(port)).stdout.strip()


def apply_raw(ns, *args):
    r = ns.run(_tool(), *args, check=False)
    return r.returncode, r.stdout.splitlines(), r.stderr


def apply(ns, *args):
    """Run firewall-apply in ns; its result lines ("applied", "unchanged")."""
    rc, out, err = apply_raw(ns, *args)
    assert rc == 0, "firewall-apply %s: exit %d: %s %s" % (" ".join(args), rc, out, err)
    return out


def canon(rule):
    """A rule as iptables-restore got it or `iptables -S` prints it, in one
    form: its options sorted, comma lists sorted, implicit matches dropped."""
    groups = []
    for tok in rule.split():
        if tok.startswith("-"):
            groups.append([tok])
        else:
            groups[-1].append(",".join(sorted(tok.split(","))))
    drop = (["-m", "tcp"], ["-m", "udp"])
    return tuple(sorted(tuple(g) for g in groups if g not in drop and g[0] != "--reject-with"))


def rendered(args, ipv6):
    """The chain's rules as firewall-apply renders them for these args."""
    r = _run([_tool(), "-d"] + list(args))  # prints the rules, runs no iptables
    text = r.stdout.split("COMMIT\n")[1 if ipv6 else 0]
    return [canon(line) for line in text.splitlines() if line.startswith("-A %s " % CHAIN)]


def input_rules(lines):
    """INPUT's rules, and the positions of those that jump to the chain."""
    rules = [line for line in lines if line.startswith("-A INPUT ")]
    return rules, [i + 1 for i, line in enumerate(rules) if line == "-A INPUT -j " + CHAIN]


def check_chain(ns, args, returns, at=1):
    """The chain and INPUT's one jump to it (at position `at`), IPv4 and IPv6."""
    port = args[args.index("-p") + 1] if "-p" in args else str(API)
    for ipv6 in (False, True):
        lines = ns.rules(ipv6)
        family = "IPv6" if ipv6 else "IPv4"
        assert "-N " + CHAIN in lines, "%s %s: no chain: %s" % (args, family, lines)
        rules, jumps = input_rules(lines)
        assert jumps == [at], "%s %s: INPUT must jump to the chain once, at %d: %s" % (
            args, family, at, rules)
        chain = [canon(line) for line in lines if line.startswith("-A %s " % CHAIN)]
        assert chain == rendered(args, ipv6), "%s %s: the chain is not what was rendered: %s" % (
            args, family, lines)
        assert (canon("-A %s -j RETURN" % CHAIN) in chain) == returns, \
            "%s %s: RETURN %s expected: %s" % (args, family, returns, lines)
        assert chain[-1] == canon("-A %s -j REJECT" % CHAIN), lines
        assert canon("-A %s -p tcp --dport %s -j REJECT" % (CHAIN, port)) in chain, lines
        icmp = canon("-A %s -p %s -j ACCEPT" % (CHAIN, "ipv6-icmp" if ipv6 else "icmp"))
        assert icmp in chain, "%s %s: no ICMP rule: %s" % (args, family, lines)


def test_firewall_chain_and_input_jump_for_each_mode():
    cases = [  # firewall-apply's arguments, whether the chain returns to INPUT
        (["-m", "on"], False),
        (["-m", "off"], True),
        (["-m", "auto", "-n", "0"], True),
        (["-m", "auto", "-n", "1"], False),
        (["-m", "bogus"], True),
        (["-m", "on", "-l", "1"], False),
        (["-m", "off", "-p", "1234"], True),
        (["-m", "on"], False),
    ]
    with Netns() as ns:
        # One namespace: each mode replaces the one before it.
        for args, returns in cases:
            assert apply(ns, *args, "-c", "2") == ["applied", "unchanged"], args
            check_chain(ns, args, returns)
            assert apply(ns, *args) == ["applied"], args  # a new process applies again
            check_chain(ns, args, returns)


def test_firewall_keeps_input_rules_and_the_jump_position():
    with Netns() as ns:
        tables = ("iptables", "ip6tables")
        for t in tables:
            ns.run(t, "-w", "-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "ACCEPT")
        assert apply(ns, "-m", "on") == ["applied"]
        for ipv6 in (False, True):
            rules, jumps = input_rules(ns.rules(ipv6))
            assert jumps == [1] and len(rules) == 2 and "--dport 80" in rules[1], rules

        # Someone moved the jump below the port-80 rule, and added a second.
        for t in tables:
            ns.run(t, "-w", "-D", "INPUT", "-j", CHAIN)
            ns.run(t, "-w", "-A", "INPUT", "-j", CHAIN)
            ns.run(t, "-w", "-A", "INPUT", "-j", CHAIN)
        assert apply(ns, "-m", "off") == ["applied"]
        for ipv6 in (False, True):
            rules, jumps = input_rules(ns.rules(ipv6))
            assert jumps == [2] and len(rules) == 2 and "--dport 80" in rules[0], rules
        check_chain(ns, ["-m", "off"], True, at=2)


def test_firewall_failure_leaves_the_chain_as_it_was():
    with Netns() as ns, TempDir() as d:
        assert apply(ns, "-m", "on") == ["applied"]
        before = (ns.rules(False), ns.rules(True))

        # A stand-in for `iptables -S INPUT` that shows one rule more than
        # INPUT has: iptables-restore then fails on the jump's position,
        # after it has read the chain's flush.
        lister = os.path.join(d, "iptables")
        with open(lister, "w") as f:
            f.write("#!/bin/sh\necho '-A INPUT -p tcp -j ACCEPT'\necho '-A INPUT -j %s'\n"
                    % CHAIN)
        os.chmod(lister, 0o755)
        rc, out, err = apply_raw(ns, "-m", "off", "-s", lister)
        assert rc == 1 and len(out) == 1 and out[0].startswith("error: ") \
            and "iptables-restore" in out[0], (rc, out, err)
        assert "Firewall mode not applied due to error" in err, err
        assert (ns.rules(False), ns.rules(True)) == before

        rc, out, err = apply_raw(ns, "-m", "off", "-r", "/nonexistent/iptables-restore")
        assert (rc, out) == (1, ["error: cannot run /nonexistent/iptables-restore: No such "
                                 "file or directory"]), (rc, out, err)
        assert (ns.rules(False), ns.rules(True)) == before


def test_firewall_reachability_for_each_mode():
    cases = [  # firewall-apply's arguments, API open to the LAN, service open to the LAN
        (None, True, True),
        (["-m", "on"], False, False),
        (["-m", "off"], False, True),  # mode off leaves the API guarded
        (["-m", "auto", "-n", "0"], False, True),
        (["-m", "auto", "-n", "1"], False, False),
        (["-m", "on", "-l", "1"], True, False),
        (["-m", "off", "-l", "1"], True, True),
        (["-m", "bogus"], False, True),
    ]
    with pair() as (dev, peer), listening(dev, API, SERVICE):
        for args, api_open, service_open in cases:
            if args is not None:
                assert apply(dev, *args) == ["applied"], args
            want = {API: "connected" if api_open else "refused",
                    SERVICE: "connected" if service_open else "refused"}
            for addr in (DEV4, DEV6):
                got = {port: probe(peer, addr, port) for port in (API, SERVICE)}
                assert got == want, "%s: from the LAN to %s: %s, not %s" % (args, addr, got, want)
            # The device itself always reaches both, on lo and on its own address.
            for addr in ("127.0.0.1", "::1", DEV4, DEV6):
                got = {port: probe(dev, addr, port) for port in (API, SERVICE)}
                assert got == {API: "connected", SERVICE: "connected"}, \
                    "%s: from the device to %s: %s" % (args, addr, got)


def test_firewall_mode_on_lets_the_device_reach_its_neighbours():
    # IPv6 neighbour discovery's replies are ICMPv6 that conntrack does not
    # track: without the ICMPv6 rule the device could not reach its LAN.
    with pair() as (dev, peer), listening(peer, SERVICE):
        assert apply(dev, "-m", "on") == ["applied"]
        for addr in (PEER6, PEER4):
            assert probe(dev, addr, SERVICE) == "connected", addr

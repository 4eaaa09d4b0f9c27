"""The seccomp filters, exercised with the test build's hook: SIGUSR2 makes a
child call ptrace(), which no child's allow-list permits."""
import os
import re
import signal

from lib import Agentd, alive, kmsg_readable

FAST = {"restart": "always", "backoff_initial_ms": 10, "backoff_max_ms": 50,
        "stable_after_ms": 60000, "burst_limit": 10, "burst_window_ms": 60000}
SIGSYS = int(signal.SIGSYS)

VIOLATION = (r"^agentd: error: %s: sandbox violation: pid %d killed by SIGSYS "
             r"(?:for calling (\S+) \((\d+)\)|\(syscall not known: [^)]*\))$")


def _forbidden_syscall_kills_and_restarts(name):
    with Agentd(test_build=True, settings={"daemons": {name: FAST}}) as a:
        old = a.children()[name]
        since = a.mark()
        os.kill(old, signal.SIGUSR2)
        a.wait_log(r"^%s: test hook: calling ptrace\(\)$" % name, since=since)
        a.wait_log(r"^agentd: error: %s: killed by signal %d \(" % (name, SIGSYS), since=since)
        m = a.wait_log(VIOLATION % (name, old), since=since)
        if m.group(1) is not None:
            assert m.group(1) == "ptrace", "violation names %s, not ptrace: %s" % (
                m.group(1), m.group(0))
        new = a.wait_child_ready(name, old, since=since)
        assert new != old
        a.wait_http("GET", "/ping", (200, "OK"))
        assert sorted(a.children()) == ["apid", "cloudsyncd", "enginectl"]
        return m


def test_forbidden_syscall_kills_apid_and_it_comes_back():
    _forbidden_syscall_kills_and_restarts("apid")


def test_forbidden_syscall_kills_enginectl_and_it_comes_back():
    _forbidden_syscall_kills_and_restarts("enginectl")


def test_forbidden_syscall_kills_cloudsyncd_and_it_comes_back():
    _forbidden_syscall_kills_and_restarts("cloudsyncd")


def test_violation_names_ptrace_when_kmsg_is_readable():
    # agentd reads the kernel's seccomp audit records from /dev/kmsg; when it
    # can, the line must name the syscall, not fall back to "not known".
    if not kmsg_readable():
        from lib import Skip
        raise Skip("/dev/kmsg is not readable here")
    m = _forbidden_syscall_kills_and_restarts("apid")
    assert m.group(1) == "ptrace", "violation not named: %s" % m.group(0)


def test_log_mode_reports_forbidden_syscall_without_killing():
    with Agentd(test_build=True, args=["-S", "log"]) as a:
        old = a.children()["apid"]
        start = a.seen_children()[old][1]
        since = a.mark()
        os.kill(old, signal.SIGUSR2)
        a.wait_log(r"^apid: test hook: calling ptrace\(\)$", since=since)
        if kmsg_readable():
            a.wait_log(r"^apid: warning: sandbox \(log mode\): called ptrace \(101\)",
                       since=since)
        # The hook returns once ptrace() has: the child answers HTTP again.
        a.wait_http("GET", "/ping", (200, "OK"))
        assert alive(old, start), "apid pid %d died in log mode" % old
        assert a.children()["apid"] == old
        log = a.log()[since:]
        assert not re.search(r"apid: (killed|sandbox violation|restarting)", log), log
        with open("/proc/%d/status" % old) as f:
            assert "Seccomp:\t2" in f.read()


def test_violation_without_kernel_record_is_logged_unnamed():
    # With no audit record to read (here /dev/kmsg is /dev/null in agentd's
    # mount namespace), agentd still reports the violation, without a name.
    with Agentd(test_build=True, hide_kmsg=True, settings={"daemons": {"apid": FAST}}) as a:
        old = a.children()["apid"]
        since = a.mark()
        os.kill(old, signal.SIGUSR2)
        a.wait_log(r"^agentd: error: apid: sandbox violation: pid %d killed by SIGSYS "
                   r"\(syscall not known: no kernel audit record seen\)$" % old, since=since)
        a.wait_child_ready("apid", old, since=since)
        a.wait_http("GET", "/ping", (200, "OK"))

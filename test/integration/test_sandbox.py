"""The seccomp filters, exercised with the test build's hook: SIGUSR2 makes a
child call ptrace(), which no child's allow-list permits."""
import os
import re
import signal
import time

from lib import SCALE, Agentd, KmsgReader, Skip, alive, kmsg_readable, wait_until

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


def test_violation_names_ptrace_when_the_kernel_prints_the_record():
    # agentd reads the kernel's seccomp audit records from /dev/kmsg; when the
    # kernel printed the record, the line must name the syscall. The kernel
    # prints these records through printk_ratelimit() (machine-wide, 10 per
    # 5 s), so one can be dropped: retry, with a fresh apid, until an attempt
    # is named, and skip only if the kernel printed no record at all.
    if not kmsg_readable():
        raise Skip("/dev/kmsg is not readable here")
    many = dict(FAST, burst_limit=64)
    with Agentd(test_build=True, settings={"daemons": {"apid": many}}) as a, \
            KmsgReader() as k:
        deadline = time.monotonic() + 30 * SCALE
        printed = []
        while True:
            old = a.children()["apid"]
            since = a.mark()
            os.kill(old, signal.SIGUSR2)
            m = a.wait_log(VIOLATION % ("apid", old), since=since)
            a.wait_child_ready("apid", old, since=since)
            if m.group(1) is not None:
                assert (m.group(1), m.group(2)) == ("ptrace", "101"), m.group(0)
                return
            if k.seccomp_record(old, 101):
                printed.append(old)
            # The record may rarely print after agentd's 500 ms wait; three
            # printed-but-unnamed attempts are not that.
            if len(printed) >= 3 or time.monotonic() > deadline:
                if printed:
                    raise AssertionError(
                        "the kernel printed seccomp records for pids %r but agentd never "
                        "named the syscall; last: %s" % (printed, m.group(0)))
                raise Skip("the kernel printed no seccomp audit record (audit off or "
                           "rate-limited for 30 s)")


def test_log_mode_reports_forbidden_syscall_without_killing():
    reader = KmsgReader() if kmsg_readable() else None
    try:
        with Agentd(test_build=True, args=["-S", "log"]) as a:
            old = a.children()["apid"]
            start = a.seen_children()[old][1]
            since = a.mark()
            deadline = time.monotonic() + 30 * SCALE
            while True:
                mark = a.mark()
                os.kill(old, signal.SIGUSR2)
                a.wait_log(r"^apid: test hook: calling ptrace\(\)$", since=mark)
                # The hook returns once ptrace() has: the child answers HTTP again.
                a.wait_http("GET", "/ping", (200, "OK"))
                assert alive(old, start), "apid pid %d died in log mode" % old
                if reader is None:
                    break  # no kernel records to check against
                try:
                    rec = wait_until(lambda: reader.seccomp_record(old, 101), 3,
                                     what="the kernel's record")
                except AssertionError:
                    rec = None  # dropped by printk_ratelimit(): call ptrace() again
                if rec is not None:
                    assert "code=0x7ffc0000" in rec, "not a SECCOMP_RET_LOG record: %s" % rec
                    # The kernel printed it: agentd must report it.
                    a.wait_log(r"^apid: warning: sandbox \(log mode\): called ptrace \(101\)",
                               since=mark)
                    break
                if time.monotonic() > deadline:
                    raise Skip("the kernel printed no seccomp audit record in 30 s")
            assert a.children()["apid"] == old
            log = a.log()[since:]
            assert not re.search(r"apid: (killed|sandbox violation|restarting)", log), log
            with open("/proc/%d/status" % old) as f:
                assert "Seccomp:\t2" in f.read()
    finally:
        if reader is not None:
            reader.close()


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

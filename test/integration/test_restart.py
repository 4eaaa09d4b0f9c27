"""Supervision: a child that dies is restarted; one that keeps dying is left
down and agentd reports itself unhealthy."""
import os
import re
import signal

from lib import DAEMONS, Agentd, gone, wait_until

FAST = {"restart": "always", "backoff_initial_ms": 10, "backoff_max_ms": 50,
        "stable_after_ms": 60000, "burst_limit": 10, "burst_window_ms": 60000}


def _kill_and_wait_replacement(a, name, sig=signal.SIGKILL):
    """Kill child `name`, wait until a new one is ready; return (old, new) pids."""
    old = a.children()[name]
    start = a.seen_children()[old][1]
    since = a.mark()
    os.kill(old, sig)
    a.wait_log(r"^agentd: error: %s: killed by signal %d \(" % (name, sig), since=since)
    new = a.wait_child_ready(name, old, since=since)
    wait_until(lambda: gone(old, start), what="old %s pid %d to be reaped" % (name, old))
    return old, new


def test_kill_9_of_each_child_restarts_it():
    with Agentd() as a:
        for name in DAEMONS:
            before = a.children()
            since = a.mark()
            old, new = _kill_and_wait_replacement(a, name)
            assert new != old
            a.wait_log(r"^agentd: %s: restarting in \d+ ms$" % name, since=since)
            a.wait_http("GET", "/ping", (200, "OK"))
            after = a.children()
            # Only the killed child was replaced.
            for other in DAEMONS:
                if other != name:
                    assert after.get(other) == before[other], \
                        "killing %s changed %s: %r -> %r" % (name, other, before, after)
            assert sorted(after) == sorted(DAEMONS), after
        assert a.http("GET", "/v1/healthy") == (200, "OK")


def test_restarted_child_is_sandboxed_again():
    with Agentd(settings={"daemons": {"apid": FAST}}) as a:
        _old, new = _kill_and_wait_replacement(a, "apid")
        with open("/proc/%d/status" % new) as f:
            status = f.read()
        assert "Seccomp:\t2" in status and "NoNewPrivs:\t1" in status, status
        assert re.search(r"^Uid:\t65534\t65534\t65534\t65534$", status, re.M), status


def test_burst_limit_leaves_enginectl_down_and_agentd_unhealthy():
    settings = {"daemons": {"enginectl": dict(FAST, burst_limit=3)}}
    with Agentd(settings=settings) as a:
        kills = 0
        limit = re.compile(r"^agentd: error: enginectl: started 3 times within 60000 ms: "
                           r"leaving it down; agentd is unhealthy$", re.M)
        while not limit.search(a.log()):
            assert kills < 3, "enginectl killed %d times without hitting burst_limit 3; " \
                "log: %s" % (kills, a.log_tail())
            old = a.children()["enginectl"]
            since = a.mark()
            os.kill(old, signal.SIGKILL)
            kills += 1
            # Either a replacement becomes ready, or agentd gives up on it.
            a.wait_log(r"^agentd: (enginectl: ready \(pid (?!%d\))\d+\)|error: enginectl: "
                       r"started 3 times)" % old, since=since)
        assert kills == 3, "burst limit hit after %d kills, not 3" % kills
        a.wait_http("GET", "/v1/healthy", (500, "Unhealthy"))
        assert a.http("GET", "/ping") == (200, "OK")
        kids = a.child_procs()
        assert "enginectl" not in [n for _p, n, _s in kids], kids
        assert sorted(n for _p, n, _s in kids) == ["apid", "cloudsyncd"], kids
        assert "enginectl: restarting" not in a.log()[a.log().index("started 3 times"):]


def test_unhealthy_survives_an_apid_restart():
    settings = {"daemons": {"enginectl": dict(FAST, burst_limit=1), "apid": FAST}}
    with Agentd(settings=settings) as a:
        os.kill(a.children()["enginectl"], signal.SIGKILL)
        a.wait_log(r"enginectl: started 1 times within 60000 ms: leaving it down")
        a.wait_http("GET", "/v1/healthy", (500, "Unhealthy"))
        _kill_and_wait_replacement(a, "apid")
        # The new apid must learn that agentd is still unhealthy.
        a.wait_http("GET", "/v1/healthy", (500, "Unhealthy"))
        assert "enginectl" not in a.children()


def test_restarts_do_not_leak_descriptors_in_agentd():
    settings = {"daemons": {name: FAST for name in DAEMONS}}
    with Agentd(settings=settings) as a:
        def nfds():
            return len(os.listdir("/proc/%d/fd" % a.pid))
        base = nfds()
        for _ in range(3):
            for name in DAEMONS:
                _kill_and_wait_replacement(a, name)
        wait_until(lambda: nfds() == base, what="agentd's descriptors to return to %d "
                   "(now %d)" % (base, nfds()))


def test_sigterm_while_a_child_waits_to_restart():
    slow = dict(FAST, backoff_initial_ms=60000, backoff_max_ms=60000)
    with Agentd(settings={"daemons": {"cloudsyncd": slow}}) as a:
        old = a.children()["cloudsyncd"]
        os.kill(old, signal.SIGKILL)
        a.wait_log(r"^agentd: cloudsyncd: restarting in \d+ ms$")
        seen = a.seen_children()
        assert a.stop() == 0
        assert a.log().splitlines()[-1] == "agentd: stopped"
        assert not re.search(r"cloudsyncd: ready \(pid (?!%d\))" % old, a.log())
        for pid, (name, start) in seen.items():
            assert gone(pid, start), "%s pid %d survived agentd" % (name, pid)

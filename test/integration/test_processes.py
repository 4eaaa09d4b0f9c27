"""The process tree agentd builds, the children's sandbox, and a clean stop."""
import signal

from lib import DAEMONS, NOBODY_UID, Agentd, gone, processes_with_parent, proc_status


def test_exactly_three_children_and_no_grandchildren():
    with Agentd() as a:
        kids = a.child_procs()
        names = sorted(name for _pid, name, _state in kids)
        assert names == sorted(DAEMONS), "agentd's children: %r" % kids
        assert all(state != "Z" for _p, _n, state in kids), "zombie child: %r" % kids
        for pid, name, _state in kids:
            grand = processes_with_parent(pid)
            assert grand == [], "%s (pid %d) has children: %r" % (name, pid, grand)
        with open("/proc/%d/comm" % a.pid) as f:
            assert f.read().strip() == "agentd"


def test_each_child_is_sandboxed_and_apid_cloudsyncd_are_not_root():
    with Agentd() as a:
        kids = a.children()
        for name in DAEMONS:
            st = proc_status(kids[name])
            assert st.get("Seccomp") == "\t2", "%s Seccomp:%r" % (name, st.get("Seccomp"))
            assert st.get("NoNewPrivs") == "\t1", "%s NoNewPrivs:%r" % (name, st.get("NoNewPrivs"))
            uids = [int(u) for u in st["Uid"].split()]
            gids = [int(g) for g in st["Gid"].split()]
            if name == "enginectl":
                continue  # stays root: the engine socket is root's
            assert uids == [NOBODY_UID] * 4, "%s Uid: %r" % (name, uids)
            assert 0 not in gids, "%s Gid: %r" % (name, gids)
            groups = st.get("Groups", "").split()
            assert "0" not in groups, "%s Groups: %r" % (name, groups)
        # agentd itself runs under its own allow-list, which lets it fork and
        # exec (test_hardening.py holds it to the rest).
        assert proc_status(a.pid).get("Seccomp") == "\t2"


def _check_clean_stop(a, sig):
    seen = a.seen_children()
    assert sorted(n for n, _s in seen.values()) == sorted(DAEMONS), seen
    rc = a.stop(sig)
    assert rc == 0, "agentd exited with %r after signal %d" % (rc, sig)
    lines = a.log().splitlines()
    assert lines and lines[-1] == "agentd: stopped", "last log lines: %r" % lines[-3:]
    for pid, (name, start) in seen.items():
        assert gone(pid, start), "%s (pid %d) still exists after agentd stopped" % (name, pid)


def test_sigterm_stops_children_and_exits_0():
    with Agentd() as a:
        _check_clean_stop(a, signal.SIGTERM)
        assert "agentd: signal 15: stopping" in a.log()


def test_sigint_stops_children_and_exits_0():
    with Agentd() as a:
        _check_clean_stop(a, signal.SIGINT)

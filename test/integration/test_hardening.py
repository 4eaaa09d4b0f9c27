"""test_hardening.py - agentd itself confined (issue 19): the files it makes and
their modes (private files from before made private at start-up, once); its
capabilities, no_new_privs and its own seccomp filter as /proc shows them; a
forbidden syscall kills it (test build: SIGUSR2 makes agentd call ptrace()),
and starting it again, as systemd or the container's restart policy would,
brings it back without touching the apps; in log mode the call is only
logged; absurd JSON from outside is refused with a clear error.

Every test removes the containers, networks and files it made."""
import json
import os
import re
import signal
import stat
import time

import lib
from engine import engine
from fake_cloud import FakeCloud
from test_cloud import managed_config, read_config, remove_app, v3_target
from test_state_engine import State, app_id, events_since, mutations, service, target

SIGSYS = int(signal.SIGSYS)
# CAP_CHOWN, CAP_KILL, CAP_SETGID, CAP_SETUID (docs/operations.md, "Capabilities")
KEPT = (1 << 0) | (1 << 5) | (1 << 6) | (1 << 7)
NET_ADMIN_RAW = (1 << 12) | (1 << 13)


def caps(status, key):
    return int(status[key].strip(), 16)


class Device(lib.Agentd):
    """agentd with config.json `config` (listenPort added) and agentd.json `settings`."""

    def __init__(self, config, **kw):
        self.base_config = config
        super().__init__(**kw)

    def start(self):
        port = lib.free_port()
        self.config = dict(self.base_config, listenPort=port)
        super().start()
        self.port = port
        return self


def test_agentd_keeps_only_its_capabilities_and_runs_under_its_filter():
    with lib.Agentd() as a:
        st = lib.proc_status(a.pid)
        assert st["Seccomp"].strip() == "2", st["Seccomp"]
        assert st["NoNewPrivs"].strip() == "1", st["NoNewPrivs"]
        for key in ("CapEff", "CapPrm", "CapBnd"):
            assert caps(st, key) == KEPT, "%s %s, not %x" % (key, st[key].strip(), KEPT)
        assert caps(st, "CapInh") == 0 and caps(st, "CapAmb") == 0
        m = a.wait_log(r"^agentd: confined: capabilities 0x([0-9a-f]+), seccomp allow-list "
                       r"of (\d+) calls \(kill mode\)$")
        assert int(m.group(1), 16) == KEPT
        assert int(m.group(2)) > 100, m.group(0)
        # what agentd runs gets no more than agentd kept
        for name, pid in a.children().items():
            kid = lib.proc_status(pid)
            assert caps(kid, "CapBnd") == KEPT, (name, kid["CapBnd"])
            assert caps(kid, "CapEff") & ~KEPT == 0, (name, kid["CapEff"])
            if name != "enginectl":  # apid and cloudsyncd run as nobody: nothing
                assert caps(kid, "CapEff") == 0, (name, kid["CapEff"])
        assert a.http("GET", "/v1/healthy")[0] == 200


def test_files_agentd_makes_and_their_modes():
    # A managed Raspberry Pi with a service, a boot config var (config.txt,
    # then a reboot: the command here only says it ran) and a proxy: every
    # file agentd makes in its data dir, its run dir and the boot partition,
    # and config.json, with the mode each must have. A file not listed here
    # fails the test: list it here and in docs/operations.md ("Files").
    eng = engine()
    aid = 890000 + os.getpid() % 1000
    app_uuid = "feed%028x" % aid
    with FakeCloud() as cloud, lib.TempDir() as tmp:
        boot = os.path.join(tmp, "boot")
        os.mkdir(boot)
        rebooted = os.path.join(tmp, "rebooted")
        config = dict(managed_config(cloud), deviceType="raspberrypi4-64")
        settings = {"boot_dir": boot,
                    "reboot_command": ["sh", "-c", "echo yes > " + rebooted]}
        with Device(config, settings=settings, args=["-s", eng.sock]) as a:
            try:
                lib.wait_until(lambda: "registered_at" in read_config(a), 20,
                               what="provisioning")
                uuid = read_config(a)["uuid"]
                t = v3_target(uuid, app_uuid, aid, "c0ffee", eng.local_image)
                t[uuid]["config"]["HOST_CONFIG_gpu_mem"] = "64"
                cloud.target = t
                lib.wait_until(lambda: os.path.exists(rebooted), 60, what="the reboot command")
                lib.wait_until(lambda: os.path.exists(
                    os.path.join(a.rundir, "state-report-cache")), 40, what="a report sent")
                key = global_key(a)
                st, body = a.http("PATCH", "/v1/device/host-config", json.dumps(
                    {"network": {"proxy": {"type": "socks5", "ip": "10.0.0.1", "port": 1080,
                                           "login": "me", "password": "secret",
                                           "noProxy": ["10.0.0.0/8"]}}}),
                    {"Content-Type": "application/json", "Authorization": "Bearer " + key})
                assert st == 200, (st, body)
                found = listing(a, boot)
            finally:
                remove_app(eng, aid, app_uuid)
        expected = {
            "config.json": 0o600,                       # the device's API keys
            "data/": 0o700,
            "data/agentd.sqlite": 0o600,                # API keys, target, what it made
            "data/agentd.sqlite-wal": 0o600,
            "data/agentd.sqlite-shm": 0o600,
            "data/boot-config.json": 0o600,
            "run/": 0o755,                              # the OS reads it; lock dirs below
            "run/target-state-config": 0o600,
            "run/state-report-cache": 0o600,
            "run/reboot-after-apply": 0o600,
            "run/services/": 0o755,                     # balena's lock dir modes
            "run/services/%d/" % aid: 0o755,
            "run/services/%d/main/" % aid: 0o1777,
            "run/services/%d/main/updates.lock" % aid: 0o644,
            "run/services/%d/main/resin-updates.lock" % aid: 0o644,
            "boot/config.txt": 0o644,                   # the firmware's
            "boot/system-proxy/": 0o755,
            "boot/system-proxy/redsocks.conf": 0o600,   # the proxy's password
            "boot/system-proxy/no_proxy": 0o644,
        }
        optional = {"data/agentd.sqlite-wal", "data/agentd.sqlite-shm"}  # gone after a clean stop
        unexpected = {p: oct(m) for p, m in found.items() if p not in expected}
        assert not unexpected, "files agentd made that no one listed: %r" % unexpected
        for path, mode in expected.items():
            if path in optional and path not in found:
                continue
            assert path in found, "agentd did not make %s; it made %r" % (path, sorted(found))
            assert found[path] == mode, "%s is %o, not %o" % (path, found[path], mode)


def global_key(a):
    import sqlite3
    db = sqlite3.connect(os.path.join(a.datadir, "agentd.sqlite"))
    try:
        return db.execute("SELECT key FROM api_secret WHERE app_id = 0").fetchone()[0]
    finally:
        db.close()


def listing(a, boot):
    """{relative path: mode} of what is in agentd's dirs (dirs end with /), while it runs."""
    out = {"config.json": stat.S_IMODE(os.stat(a.config_path).st_mode)}
    for label, top in (("data", a.datadir), ("run", a.rundir), ("boot", boot)):
        for root, dirs, files in os.walk(top):
            rel = os.path.relpath(root, top)
            prefix = label + "/" + ("" if rel == "." else rel + "/")
            if label != "boot" or rel != ".":  # the boot dir is the test's
                out[prefix] = stat.S_IMODE(os.lstat(root).st_mode)
            for f in files:
                out[prefix + f] = stat.S_IMODE(os.lstat(os.path.join(root, f)).st_mode)
    return out


MADE_PRIVATE = r"^agentd: (\S+) was mode 0644: made 0600 \(only agentd may read it\)$"


def test_files_from_before_are_made_private_at_start_once():
    uuid = "%032x" % (os.getpid() * 104729)
    key = "%032x" % (os.getpid() * 1299709)
    config = {"uuid": uuid, "deviceApiKey": key}  # so agentd need not rewrite it
    with lib.TempDir() as tmp:
        with Device(config, workdir=tmp) as a:
            pass
        # as an older agentd, or a person, left them
        data, run = a.datadir, a.rundir
        db = os.path.join(data, "agentd.sqlite")
        cache = os.path.join(run, "state-report-cache")
        with open(cache, "w") as f:
            f.write("{}")
        for p in (db, cache, a.config_path):
            os.chmod(p, 0o644)
        with Device(config, workdir=tmp) as b:
            made = sorted(m.group(1) for m in re.finditer(MADE_PRIVATE, b.log(), re.M))
            # sqlite makes the WAL and its index with the database's mode
            older = sorted([db, db + "-shm", db + "-wal", cache, b.config_path])
            assert made == older, made
            for p in older:
                assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        with Device(config, workdir=tmp) as c:
            assert not re.search(MADE_PRIVATE, c.log(), re.M), c.log_tail()


def wait_gone(a):
    for pid, (_n, start) in a.seen_children().items():
        lib.wait_until(lambda: lib.gone(pid, start), 10, what="agentd's children to go")


def test_forbidden_syscall_kills_agentd_and_a_restart_brings_it_back_without_harm():
    aid = app_id()
    s = State(aid)  # its helpers, and its cleanup of app `aid`
    uuid = "%032x" % (int(aid) * 7919)  # the same device across both starts
    reader = lib.KmsgReader() if lib.kmsg_readable() else None
    first = second = None
    try:
        first = Device({"uuid": uuid}, test_build=True, args=["-s", s.eng.sock]).__enter__()
        s.ad = first
        t = target(aid, "c1", 1, [service(1, "main", s.eng.local_image, 11),
                                  service(2, "side", s.eng.local_image, 12)])
        s.apply(t)
        before = {n: (c[0]["Id"], c[0]["State"]["StartedAt"])
                  for n, c in s.containers().items()}
        killed_at = time.time()
        os.kill(first.pid, signal.SIGUSR2)
        first.wait_log(r"^agentd: test hook: calling ptrace\(\)$")
        rc = first.proc.wait(10 * lib.SCALE)
        assert rc == -SIGSYS, "agentd ended with %r, not killed by SIGSYS" % rc
        wait_gone(first)  # its children follow it: their channel closed
        if reader is not None:
            # the kernel says which call, when it printed the record
            # (printk_ratelimit may drop it: then there is nothing to check)
            rec = reader.seccomp_record(first.pid)
            if rec is not None:
                assert " syscall=101 " in rec and "code=0x80000000" in rec, rec
        # what systemd's Restart= or the container's restart policy does
        second = Device({"uuid": uuid}, test_build=True, args=["-s", s.eng.sock],
                        workdir=first.dir).__enter__()
        s.ad = second
        s.wait_applied(t, 60)
        second.wait_log(r"^agentd: apply: target state applied$")
        after = {n: (c[0]["Id"], c[0]["State"]["StartedAt"])
                 for n, c in s.containers().items()}
        assert after == before, (before, after)
        assert mutations(events_since(s.eng, killed_at), aid) == []
        st = lib.proc_status(second.pid)
        assert st["Seccomp"].strip() == "2" and caps(st, "CapEff") == KEPT
    finally:
        try:
            if second is not None:
                second.__exit__(None, None, None)
            if first is not None:
                first.__exit__(None, None, None)  # removes the directory
        finally:
            s.cleanup()
            if reader is not None:
                reader.close()


def test_log_mode_logs_what_agentd_s_own_list_forbids_and_it_lives():
    reader = lib.KmsgReader() if lib.kmsg_readable() else None
    try:
        with lib.Agentd(test_build=True, args=["-S", "log"]) as a:
            start = lib.proc_stat(a.pid)["starttime"]
            a.wait_log(r"^agentd: confined: .* \(log mode\)$")
            deadline = time.monotonic() + 30 * lib.SCALE
            while True:
                mark = a.mark()
                os.kill(a.pid, signal.SIGUSR2)
                a.wait_log(r"^agentd: test hook: calling ptrace\(\)$", since=mark)
                a.wait_http("GET", "/ping", (200, "OK"))
                assert lib.alive(a.pid, start), "agentd died in log mode"
                if reader is None:
                    break
                try:
                    rec = lib.wait_until(lambda: reader.seccomp_record(a.pid, 101), 3,
                                         what="the kernel's record")
                except AssertionError:
                    rec = None  # dropped by printk_ratelimit(): call ptrace() again
                if rec is not None:
                    assert "code=0x7ffc0000" in rec, rec
                    a.wait_log(r"^agentd: warning: sandbox \(log mode\): agentd called ptrace "
                               r"\(101\), which its allow-list forbids$", since=mark)
                    break
                if time.monotonic() > deadline:
                    raise lib.Skip("the kernel printed no seccomp audit record in 30 s")
            assert "Seccomp:\t2" in open("/proc/%d/status" % a.pid).read()
    finally:
        if reader is not None:
            reader.close()


def post_target(a, text):
    return a.http("POST", "/v2/local/target-state", text, {"Content-Type": "application/json"})


def test_absurd_json_from_the_api_is_refused_with_a_clear_error():
    with lib.Agentd() as a:
        apid = a.children()["apid"]
        deep = "[" * 100 + "]" * 100
        st, body = post_target(a, '{"local": %s}' % deep)
        assert st == 400 and "nested more than 31 levels deep" in body, (st, body)
        wide = "[" + ",".join(["0"] * 250000) + "]"
        st, body = post_target(a, '{"local": {"apps": %s}}' % wide)
        assert st == 400 and "more than" in body and "values" in body, (st, body)
        apps = {str(i): {"services": {}} for i in range(1, 102)}
        st, body = post_target(a, json.dumps({"local": {"apps": apps}}))
        assert st == 400 and "101 apps, at most 100" in body, (st, body)
        # nobody was taken for compromised, and agentd still answers
        assert a.children()["apid"] == apid
        assert "bad frame" not in a.log()
        assert a.http("GET", "/v2/local/target-state")[0] == 200


def test_absurd_target_from_the_cloud_is_refused_and_cloudsyncd_lives():
    with FakeCloud() as cloud:
        with Device(managed_config(cloud)) as a:
            lib.wait_until(lambda: "registered_at" in read_config(a), 20, what="provisioning")
            kid = a.children()["cloudsyncd"]
            uuid = read_config(a)["uuid"]
            nest = {}
            for _ in range(40):
                nest = {"x": nest}
            cloud.target = {uuid: {"name": "d", "config": {}, "apps": {}, "deep": nest}}
            a.wait_log(r"^cloudsyncd: warning: Could not move to new release: the target state "
                       r"is too complex: nested more than 31 levels deep$", 20)
            assert a.children()["cloudsyncd"] == kid
            assert "bad frame" not in a.log()

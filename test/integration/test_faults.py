"""test_faults.py - the faults devices die of (issue 16, parts 1 and 2).

A full data partition: agentd's data and run dirs on a small tmpfs the test
mounts and fills. A POSTed target, a key regeneration, a cloud target and a
state report cache write each fail with a clear error (503 with the reason
for the API, one log line per kind of write, not one per attempt), nothing
stored is lost or corrupted, the apps keep running, and everything works
again once space is freed, without a restart.

Power cuts: agentd is killed with SIGKILL (its children with it, as a power
cut takes them all) at random points while it writes its database,
config.json and update lock files, 200 times, and started again after each
cut: the database passes integrity_check and holds the old or the new value
of each write, config.json is valid JSON with every key, and no lock file is
left held by nobody (after a restart, agentd holds none of the locks a dead
agentd took, and none is ever owned by anyone but agentd's uid 65534). Ten
more cuts land in applies that hold the apps' update locks (with the engine):
each release converges and leaves no lock.

Every test unmounts what it mounts and removes what it made, even when it
fails. `power_cuts()` and `full_disk_figures()` are also run by
test/bench/bench_faults.py, which prints the figures.
"""
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

import lib
from engine import engine
from fake_cloud import FakeCloud
from test_cloud import Managed, managed_config, read_config, remove_app
from test_state_engine import State, app_id, service, target

JSON = {"Content-Type": "application/json"}
WAIT = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
LOCK_NAMES = ("updates.lock", "resin-updates.lock")
NOBODY = lib.NOBODY_UID
MANAGED_ENDPOINT = "https://127.0.0.1:9"  # nothing listens there: never reached

# What agentd logs when a kind of write starts failing, and when it works again.
FAIL_RX = r"^agentd: error: storage: cannot write %s: (.*) \(logged again only once it works\)$"
BACK_RX = r"^agentd: storage: %s written again \((\d+) failed attempts? over \d+ s\)$"


# --------------------------------------------------------------------------- a small disk


class SmallFs:
    """A tmpfs of `size` bytes on a new directory under /tmp. fill() takes
    every free byte (a filler file written until ENOSPC), free() gives them
    back. On exit it is unmounted (lazily if something still holds it) and
    the directory removed, whatever happened in between."""

    def __init__(self, size=8 << 20):
        self.size = size
        self.path = None
        self.mounted = False

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="ad.fs.", dir="/tmp")
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % self.size,
                            "agentd-faults", self.path], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            os.rmdir(self.path)
            raise lib.Skip("cannot mount a tmpfs here: %s" % getattr(e, "stderr", e))
        self.mounted = True
        return self

    def __exit__(self, *exc):
        if self.mounted:
            r = subprocess.run(["umount", self.path], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", self.path], capture_output=True)
            self.mounted = False
        shutil.rmtree(self.path, ignore_errors=True)
        return False

    def filler(self):
        return os.path.join(self.path, "filler")

    def fill(self):
        """Write until the filesystem refuses; returns the bytes taken."""
        fd = os.open(self.filler(), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        taken = 0
        try:
            for chunk in (1 << 20, 64 << 10, 4096, 512, 1):
                block = b"\0" * chunk
                while True:
                    try:
                        taken += os.write(fd, block)
                    except OSError:
                        break
        finally:
            os.close(fd)
        return taken

    def free_bytes(self):
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def free(self):
        os.unlink(self.filler())


def on_small_fs(fs, workdir):
    """agentd's data and run dirs (workdir/data, workdir/run) on the small
    filesystem; config.json and agentd's log stay in workdir."""
    for name in ("data", "run"):
        os.makedirs(os.path.join(fs.path, name))
        os.symlink(os.path.join(fs.path, name), os.path.join(workdir, name))


# --------------------------------------------------------------------------- reading agentd


def db_rows(datadir, copy=False):
    """(integrity_check result, {table: sorted rows}) of agentd's database.
    Read through a read-only connection while agentd runs; after a cut
    (`copy`), from a copy of the database and its WAL without the shared
    memory index, which a power cut loses: what the next start will find,
    read without touching the files agentd will use."""
    src = os.path.join(datadir, "agentd.sqlite")
    tmp = tempfile.mkdtemp(prefix="ad.db.", dir="/tmp") if copy else None
    try:
        if copy:
            for tail in ("", "-wal"):
                if os.path.exists(src + tail):
                    shutil.copyfile(src + tail, os.path.join(tmp, "agentd.sqlite" + tail))
            db = sqlite3.connect(os.path.join(tmp, "agentd.sqlite"))
        else:
            db = sqlite3.connect("file:%s?mode=ro" % src, uri=True)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0]
            rows = {}
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                      "ORDER BY name").fetchall():
                rows[name] = sorted(db.execute('SELECT * FROM "%s"' % name).fetchall(),
                                    key=repr)
            return ok, rows
        finally:
            db.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def metric(ad, name, kind, key=None):
    """The value of agentd's /metrics line name{kind="..."} (0 if absent);
    `key` authenticates on a managed device."""
    st, text = ad.http("GET", "/metrics",
                       headers={"Authorization": "Bearer " + key} if key else None)
    assert st == 200, (st, text)
    m = re.search(r'^%s\{kind="%s"\} (\d+)$' % (re.escape(name), re.escape(kind)), text, re.M)
    return int(m.group(1)) if m else 0


def failures(ad, kind, key=None):
    return metric(ad, "agentd_storage_write_failures_total", kind, key)


def storage_lines(ad, since):
    """agentd's storage log lines after offset `since`."""
    return [line for line in ad.log()[since:].splitlines()
            if re.match(r"agentd: (error: )?storage: ", line)]


def lock_files(rundir):
    """[(path, owner uid)] of every update lock file under rundir/services."""
    out = []
    for root, _dirs, files in os.walk(os.path.join(rundir, "services")):
        for f in files:
            if f in LOCK_NAMES:
                p = os.path.join(root, f)
                try:
                    out.append((p, os.lstat(p).st_uid))
                except FileNotFoundError:
                    pass
    return out


def container(eng, name):
    """(id, running, StartedAt) of a container by name."""
    info = json.loads(eng.docker("inspect", name))[0]
    return info["Id"], info["State"]["Running"], info["State"]["StartedAt"]


# --------------------------------------------------------------------------- full disk


def test_full_disk_refuses_a_posted_target_keeps_the_app_and_recovers_without_restart():
    eng = engine()
    aid = app_id()
    with SmallFs() as fs, lib.TempDir() as wd:
        on_small_fs(fs, wd)
        with State(aid, workdir=wd) as s:
            img = eng.local_image
            t1 = target(aid, "c1", 1, [service(1, "main", img, 11)])
            s.apply(t1)
            name = "main_11_1_c1"
            before = container(eng, name)
            ok, rows = db_rows(s.ad.datadir)
            assert ok == "ok", ok
            pid = s.ad.pid

            fs.fill()
            assert fs.free_bytes() == 0
            mark = s.ad.mark()
            t2 = target(aid, "c2", 2, [service(1, "main", img, 11, env={"V": "2"})])
            refused = 0
            for _ in range(5):
                st, body = s.post(t2)
                assert st == 503, (st, body)
                assert body["status"] == "failed" and \
                    body["message"] == "cannot store the target: database or disk is full", body
                refused += 1
            s.ad.wait_log(FAIL_RX % "the target", since=mark)
            lib.wait_until(lambda: failures(s.ad, "target") >= refused, 10,
                           what="the refused targets counted")
            # one line for the kind, not one per request
            lines = storage_lines(s.ad, mark)
            assert len(lines) == 1, lines
            # nothing stored was lost or changed; the app runs as it did
            ok, now = db_rows(s.ad.datadir)
            assert ok == "ok" and now == rows, (ok, now == rows)
            st, body = s.ad.http("GET", "/v2/local/target-state")
            assert json.loads(body)["state"]["local"]["apps"][aid]["commit"] == "c1"
            assert container(eng, name) == before
            assert s.status()["appState"] == "applied"

            fs.free()
            back = s.ad.mark()
            st, body = s.post(t2)  # at once: no restart, no retry needed
            assert st == 200, (st, body)
            m = s.ad.wait_log(BACK_RX % "the target", since=back)
            assert int(m.group(1)) == refused, m.group(0)
            s.wait_applied(t2)
            assert s.ad.pid == pid and s.ad.running()
            ok, _ = db_rows(s.ad.datadir)
            assert ok == "ok", ok


test_full_disk_refuses_a_posted_target_keeps_the_app_and_recovers_without_restart.timeout_s = 120


def cloud_target(uuid, app_uuid, aid, name):
    """A v3 target of one app with two services: main (the app that must keep
    running) and aux (which the test stops and starts to change the report)."""
    def svc(sid):
        return {"id": sid, "image_id": 10 + sid, "image": engine().local_image,
                "environment": {}, "labels": {},
                "composition": {"command": ["sh", "-c", WAIT], "network_mode": "none"}}
    return {uuid: {"name": name, "config": {"RESIN_SUPERVISOR_POLL_INTERVAL": "500"},
                   "apps": {app_uuid: {"id": aid, "name": "faulty", "releases": {"f00d": {
                       "id": 3, "services": {"main": svc(1), "aux": svc(2)},
                       "volumes": {}, "networks": {}}}}}}}


def global_key(ad):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(ad.datadir, "agentd.sqlite"),
                         uri=True)
    try:
        return db.execute("SELECT key FROM api_secret WHERE app_id = 0").fetchone()[0]
    finally:
        db.close()


def test_full_disk_refuses_keys_cloud_targets_and_report_cache_then_recovers():
    eng = engine()
    aid = 770000 + os.getpid() % 1000
    app_uuid = "fa17%028x" % aid
    with FakeCloud() as cloud, SmallFs() as fs, lib.TempDir() as wd:
        on_small_fs(fs, wd)
        ad = Managed(cloud, eng)
        ad.workdir = wd
        # the state is handed to cloudsyncd every 6 pings: every 3 s, not 30
        ad.settings = {"ping_interval_ms": 500}
        cache = os.path.join(wd, "run", "state-report-cache")
        with ad:
            try:
                lib.wait_until(lambda: "registered_at" in read_config(ad), 20,
                               what="provisioning")
                uuid = read_config(ad)["uuid"]
                cloud.target = cloud_target(uuid, app_uuid, aid, "faulty")

                def cached_aux(status):
                    try:
                        with open(cache) as f:
                            c = json.load(f)
                    except (OSError, ValueError):
                        return False
                    svcs = c.get("apps", {}).get(app_uuid, {}).get("releases", {}) \
                        .get("f00d", {}).get("services", {})
                    return svcs.get("aux", {}).get("status") == status and \
                        svcs.get("main", {}).get("status") == "Running"
                lib.wait_until(lambda: cached_aux("Running"), 60,
                               what="the report with both services running, cached")
                main, aux = "main_11_3_f00d", "aux_12_3_f00d"
                before = container(eng, main)
                key = global_key(ad)
                ok, rows = db_rows(ad.datadir)
                assert ok == "ok", ok
                with open(cache) as f:
                    cache_text = f.read()
                pid = ad.pid

                fs.fill()
                mark = ad.mark()
                # A key regeneration is refused with the reason; the old key stays.
                for _ in range(2):
                    st, body = ad.http("POST", "/v1/regenerate-api-key", b"",
                                       {"Authorization": "Bearer " + key})
                    assert st == 503, (st, body)
                    assert json.loads(body) == {
                        "status": "failed",
                        "message": "cannot store the new key: database or disk is full"}, body
                assert ad.http("GET", "/v2/version",
                               headers={"Authorization": "Bearer " + key})[0] == 200
                # A new target from the cloud cannot be stored: kept, tried again.
                cloud.target = cloud_target(uuid, app_uuid, aid, "faulty-2")
                ad.wait_log(FAIL_RX % "the target", 20, since=mark)
                lib.wait_until(lambda: failures(ad, "target", key) >= 2, 10,
                               what="the cloud's target tried again")
                # The report cache: aux stops, the cloud hears it, the cache
                # cannot be written; twice, with one log line.
                eng.docker("stop", "-t", "2", aux)
                lib.wait_until(lambda: failures(ad, "report_cache", key) >= 1, 30,
                               what="a failed report cache write")
                eng.docker("start", aux)
                lib.wait_until(lambda: failures(ad, "report_cache", key) >= 2, 30,
                               what="a second failed report cache write")
                assert failures(ad, "api_keys", key) == 2
                lines = storage_lines(ad, mark)
                kinds = sorted(re.match(r"agentd: error: storage: cannot write (.*?): ", x)
                               .group(1) for x in lines)
                assert kinds == ["the API keys", "the state report cache", "the target"], lines
                # Nothing stored was lost or changed; the app runs as it did.
                ok, now = db_rows(ad.datadir)
                assert ok == "ok" and now == rows, (ok, now == rows)
                with open(cache) as f:
                    assert f.read() == cache_text
                assert not [f for f in os.listdir(os.path.join(wd, "run")) if ".tmp" in f]
                assert container(eng, main) == before
                st, body = ad.http("GET", "/v2/device/name",
                                   headers={"Authorization": "Bearer " + key})
                assert json.loads(body)["deviceName"] == "faulty", body

                fs.free()
                back = ad.mark()
                st, new = ad.http("POST", "/v1/regenerate-api-key", b"",
                                  {"Authorization": "Bearer " + key})
                assert st == 200 and re.fullmatch(r"[0-9a-f]{32}", new), (st, new)
                auth = {"Authorization": "Bearer " + new}

                def renamed():
                    st, body = ad.http("GET", "/v2/device/name", headers=auth)
                    return st == 200 and json.loads(body)["deviceName"] == "faulty-2"
                lib.wait_until(renamed, 20, what="the cloud's target stored and applied")

                def cached_key():
                    try:
                        with open(cache) as f:
                            return json.load(f).get("api_secret") == new
                    except (OSError, ValueError):
                        return False
                lib.wait_until(cached_key, 30, what="the report with the new key, cached")
                for kind in ("the API keys", "the target", "the state report cache"):
                    m = ad.wait_log(BACK_RX % re.escape(kind), 10, since=back)
                    assert int(m.group(1)) >= 2, m.group(0)
                assert ad.pid == pid and ad.running()
                assert container(eng, main) == before
                ok, _ = db_rows(ad.datadir)
                assert ok == "ok", ok
                assert cloud.errors == [], cloud.errors
            finally:
                remove_app(eng, aid, app_uuid)


test_full_disk_refuses_keys_cloud_targets_and_report_cache_then_recovers.timeout_s = 180


def agentd_in(wd, cfg):
    """A started agentd (no engine) in wd with config.json `cfg`, whose
    listenPort is its API port; the caller exits it."""
    a = lib.Agentd(workdir=wd, config=json.dumps(cfg), wait_ready=False)
    try:
        a.start()
        a.port = cfg["listenPort"]
        a.wait_ready()
    except BaseException:
        a.__exit__(None, None, None)
        raise
    return a


def full_disk_figures(rounds=40, full_s=3.0):
    """For bench_faults.py, without the engine, on a filled tmpfs: POSTed
    targets (an unmanaged agentd), key regenerations (a managed one whose
    cloud does not answer) and a target from the fake cloud. Returns {kind:
    (refused, tried, recovery_ms)}: the attempts refused while the disk was
    full (for the cloud's target: agentd's own retries over `full_s`), and
    the time from freeing the space to the first write that worked."""
    out = {}
    for kind in ("POSTed target", "key regeneration"):
        with SmallFs() as fs, lib.TempDir() as wd:
            on_small_fs(fs, wd)
            cfg = {"listenPort": lib.free_port()}
            if kind == "key regeneration":
                cfg.update(apiEndpoint=MANAGED_ENDPOINT, deviceType="generic-amd64")
            a = agentd_in(wd, cfg)
            try:
                state = {"key": global_key(a) if "key" in kind else None, "n": 0}

                def once():
                    state["n"] += 1
                    if kind == "POSTed target":
                        t = {"local": {"name": "bench-%d" % state["n"], "config": {},
                                       "apps": {}}}
                        st, _ = a.http("POST", "/v2/local/target-state", json.dumps(t), JSON)
                        return st
                    st, body = a.http("POST", "/v1/regenerate-api-key", b"",
                                      {"Authorization": "Bearer " + state["key"]})
                    if st == 200:
                        state["key"] = body
                    return st
                fs.fill()
                refused = sum(1 for _ in range(rounds) if once() == 503)
                fs.free()
                t0 = time.monotonic()
                lib.wait_until(lambda: once() == 200, 10, interval=0.001,
                               what="a write after the space returned")
                out[kind] = (refused, rounds, (time.monotonic() - t0) * 1000)
            finally:
                a.__exit__(None, None, None)
    with FakeCloud() as cloud, SmallFs() as fs, lib.TempDir() as wd:
        on_small_fs(fs, wd)
        cfg = dict(managed_config(cloud), listenPort=lib.free_port())
        a = agentd_in(wd, cfg)
        try:
            lib.wait_until(lambda: "registered_at" in read_config(a), 20, what="provisioning")
            uuid, key = read_config(a)["uuid"], global_key(a)

            def named(n):
                st, body = a.http("GET", "/v2/device/name",
                                  headers={"Authorization": "Bearer " + key})
                return st == 200 and json.loads(body)["deviceName"] == n

            def serve(n):
                cloud.target = {uuid: {"name": n, "apps": {},
                                       "config": {"RESIN_SUPERVISOR_POLL_INTERVAL": "500"}}}
            serve("bench-0")
            lib.wait_until(lambda: named("bench-0"), 20, what="the first cloud target")
            fs.fill()
            serve("bench-1")
            lib.wait_until(lambda: failures(a, "target", key) >= 1, 20,
                           what="the cloud's target refused")
            time.sleep(full_s)  # the bench's window: how often agentd tries meanwhile
            refused = failures(a, "target", key)
            fs.free()
            t0 = time.monotonic()
            lib.wait_until(lambda: named("bench-1"), 20, interval=0.005,
                           what="the cloud's target stored")
            out["cloud target"] = (refused, refused, (time.monotonic() - t0) * 1000)
        finally:
            a.__exit__(None, None, None)
    return out


# --------------------------------------------------------------------------- power cuts


class Writer(threading.Thread):
    """Sends one kind of write to agentd over and over, each with a new value,
    and remembers the last value acknowledged (the old one, if agentd dies
    now) and the one in flight (sent, not answered: the new one)."""

    def __init__(self, kind, port, request, old, auth=None):
        super().__init__(daemon=True)
        self.kind = kind
        self.port = port
        self.request = request  # (n) -> (value or None, method, path, body, ok statuses)
        self.auth = auth        # the key Writer whose key authenticates, or None
        self.acked = old
        self.history = [old]
        self.inflight = None
        self.stopping = threading.Event()
        self.errors = []
        self.n = 0

    def key(self):
        return self.acked if self.auth is None else self.auth.acked

    def run(self):
        while not self.stopping.is_set():
            self.n += 1
            value, method, path, body, oks = self.request(self.n)
            headers = dict(JSON)
            if self.auth is not None or self.kind == "key":
                headers["Authorization"] = "Bearer " + self.key()
            self.inflight = value if value is not None else "?"
            try:
                st, text = lib.http_request(self.port, method, path, body, headers, timeout=5)
            except Exception:  # noqa: BLE001 - agentd was cut: the write stays in flight
                return
            if st == 401 and self.auth is not None:
                self.inflight = None  # the key changed meanwhile; refused before any write
                continue
            if st not in oks:
                if not self.stopping.is_set():
                    self.errors.append("%s %s answered %d %r" % (method, path, st, text[:200]))
                return
            self.acked = value if value is not None else text
            self.history.append(self.acked)
            self.inflight = None


def cut_target(name):
    """A local target with one app of three services (their locks are what a
    host-config PATCH takes), called `name`."""
    svcs = {str(i): {"serviceName": "s%d" % i, "imageId": 10 + i, "image": "busybox:cut",
                     "environment": {}, "labels": {}, "running": True}
            for i in (1, 2, 3)}
    return {"local": {"name": name, "config": {},
                      "apps": {"4242": {"name": "cutapp", "commit": "c-" + name, "releaseId": 1,
                                        "services": svcs, "volumes": {}, "networks": {}}}}}


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def read_db_values(datadir, copy):
    """(integrity_check, target name, global keys, stored tags); `copy`:
    after a cut (see db_rows)."""
    ok, rows = db_rows(datadir, copy)
    name = None
    for (_id, text, _at) in rows.get("target_state", []):
        name = json.loads(text).get("name")
    glob = [r[3] for r in rows.get("api_secret", []) if r[1] == 0]
    cfg = {r[0]: r[1] for r in rows.get("config", [])}
    return ok, name, glob, cfg.get("targetTags")


def writers_for(i, port, managed, cfg0, name0, keys0, tags0):
    """The writes of cut i: config.json (a host-config hostname, under every
    app's update locks) on both kinds of device; the target on an unmanaged
    one; keys and tags on a managed one."""
    def hostname(n):
        v = "h-%d-%d" % (i, n)
        return v, "PATCH", "/v1/device/host-config", json.dumps({"network": {"hostname": v}}), \
            (200,)

    def post_target(n):
        v = "t-%d-%d" % (i, n)
        return v, "POST", "/v2/local/target-state", json.dumps(cut_target(v)), (200,)

    def regen(n):
        return None, "POST", "/v1/regenerate-api-key", b"", (200,)

    def tags(n):
        v = {"k": "v-%d-%d" % (i, n)}
        return compact(v), "PATCH", "/v2/device/tags", json.dumps(v), (202,)
    if not managed:
        return [Writer("config.json", port, hostname, cfg0.get("hostname")),
                Writer("target", port, post_target, name0)]
    assert len(keys0) == 1, keys0
    key = Writer("key", port, regen, keys0[0])
    return [key, Writer("config.json", port, hostname, cfg0.get("hostname"), auth=key),
            Writer("tags", port, tags, tags0, auth=key)]


def power_cuts(cuts=200, seed=None, max_delay_s=0.06, progress=None):
    """Start agentd (no engine), write to it from several threads, SIGKILL it
    and its children after a random delay, check what it left, start it
    again: `cuts` times, alternating an unmanaged device (POSTed targets,
    host-config hostnames under every app's update locks) with a managed one
    whose cloud does not answer (key regenerations, tags, hostnames).
    Raises AssertionError on the first broken invariant; returns counts."""
    if seed is None:
        seed = int(os.environ.get("AGENTD_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    stats = {"cuts": 0, "survived": 0, "inflight": {}, "locks_left": 0, "tmp_left": 0,
             "seed": seed}
    with lib.TempDir() as wd:
        config_path = os.path.join(wd, "config.json")
        datadir, rundir = os.path.join(wd, "data"), os.path.join(wd, "run")
        cfg = {"deviceType": "generic-amd64", "hostname": "h-0",
               "persistentLogging": False, "appUpdatePollInterval": 900000,
               "os": {"network": {"connectivity": {}}, "sshKeys": []}, "foreignKey": [1, 2]}
        for i in range(cuts + 1):
            managed = i % 2 == 1
            cfg["listenPort"] = port = lib.free_port()
            # the test switches the device's mode while agentd is down
            if managed:
                cfg["apiEndpoint"] = MANAGED_ENDPOINT
            else:
                cfg.pop("apiEndpoint", None)
            a = agentd_in(wd, cfg)
            try:
                where = "cut %d (AGENTD_FAULT_SEED=%d)" % (i, seed)
                left = lock_files(rundir)
                assert not left, "%s: after a restart, lock files a dead agentd took are " \
                    "still there: %s" % (where, left)
                if i == cuts:
                    break
                with open(config_path) as f:
                    cfg0 = json.load(f)
                ok, name0, keys0, tags0 = read_db_values(datadir, False)
                assert ok == "ok", "%s: integrity_check before the cut: %s" % (where, ok)
                writers = writers_for(i, port, managed, cfg0, name0, keys0, tags0)
                kids = a.children()
                for w in writers:
                    w.start()
                # The cut, at a random point of whatever agentd is doing.
                time.sleep(rng.uniform(0, max_delay_s))
                os.kill(a.pid, signal.SIGKILL)
                for pid in kids.values():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                a.proc.wait(10)
                for w in writers:
                    w.stopping.set()
                for w in writers:
                    w.join(10)
                for pid, (_n, start) in a.seen_children().items():
                    lib.wait_until(lambda: not lib.alive(pid, start), 10,
                                   what="agentd's children to be gone")
                stats["cuts"] += 1
                for w in writers:
                    assert not w.errors, "%s: %s" % (where, w.errors)
                    if w.inflight is not None:
                        stats["inflight"][w.kind] = stats["inflight"].get(w.kind, 0) + 1
                check_after_cut(where, config_path, cfg0, datadir, rundir, writers, stats)
                stats["survived"] += 1
                with open(config_path) as f:
                    cfg = json.load(f)
                if progress is not None:
                    progress(stats)
            finally:
                a.__exit__(None, None, None)
    return stats


def check_after_cut(where, config_path, cfg0, datadir, rundir, writers, stats):
    by = {w.kind: w for w in writers}
    # config.json: valid JSON with every key, each value as it was but the
    # hostname, which is the old one or the one being written
    try:
        with open(config_path) as f:
            cfg = json.load(f)
    except ValueError as e:
        raise AssertionError("%s: config.json is not valid JSON: %s" % (where, e)) from None
    w = by["config.json"]
    assert isinstance(cfg, dict) and set(cfg) == set(cfg0), \
        "%s: config.json has keys %s, had %s" % (where, sorted(cfg), sorted(cfg0))
    assert cfg["hostname"] in (w.acked, w.inflight), \
        "%s: hostname %r, neither the old %r nor the new %r" % (
            where, cfg["hostname"], w.acked, w.inflight)
    assert dict(cfg, hostname=None) == dict(cfg0, hostname=None), where
    if os.path.exists(config_path + ".tmp"):
        stats["tmp_left"] += 1
    # the database: sound, and each value the old or the new one
    ok, name, keys, tags = read_db_values(datadir, True)
    assert ok == "ok", "%s: integrity_check: %s" % (where, ok)
    if "target" in by:
        w = by["target"]
        assert name in (w.acked, w.inflight), \
            "%s: target %r, neither the old %r nor the new %r" % (where, name, w.acked,
                                                                   w.inflight)
    if "key" in by:
        w = by["key"]
        assert len(keys) == 1, "%s: %d global keys" % (where, len(keys))
        new = w.inflight is not None and re.fullmatch(r"[0-9a-f]{32}", keys[0]) and \
            keys[0] not in w.history
        assert keys[0] == w.acked or new, \
            "%s: global key %r, neither the old %r nor a new one" % (where, keys[0], w.acked)
    if "tags" in by:
        w = by["tags"]
        assert tags in (w.acked, w.inflight), \
            "%s: tags %r, neither the old %r nor the new %r" % (where, tags, w.acked, w.inflight)
    # lock files: any left is agentd's own (uid 65534), never one that would
    # read as an application's lock
    left = lock_files(rundir)
    foreign = [(p, uid) for p, uid in left if uid != NOBODY]
    assert not foreign, "%s: lock files not owned by agentd's uid: %s" % (where, foreign)
    if left:
        stats["locks_left"] += 1


def test_power_cuts_during_writes_leave_database_config_and_locks_sound():
    stats = power_cuts(200)
    assert stats["cuts"] == 200 and stats["survived"] == 200, stats
    # the cuts did land in the middle of writes, of every kind
    assert set(stats["inflight"]) == {"config.json", "target", "key", "tags"}, stats


test_power_cuts_during_writes_leave_database_config_and_locks_sound.timeout_s = 400


def test_power_cuts_mid_apply_under_update_locks_leave_no_lock_behind():
    """The apply loop's own locks: a release whose services are made again
    (download-then-kill: takeLock, kill, start, releaseLock), cut at a random
    point after it took the locks, then agentd started again: every lock file
    at the cut is agentd's, the release converges without duplicates, and no
    lock is left once it is applied, even when the cut came after the new
    containers were started (the new agentd then needs no lock to finish)."""
    eng = engine()
    aid = app_id()
    seed = int(os.environ.get("AGENTD_FAULT_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    with State(aid) as s:
        first, agents = s.ad, []
        try:
            for i in range(10):
                where = "apply cut %d (AGENTD_FAULT_SEED=%d)" % (i, seed)
                t = target(aid, "c%d" % i, i + 1,
                           [service(1, "one", eng.local_image, 11, env={"V": str(i)}),
                            service(2, "two", eng.local_image, 12, env={"V": str(i)})])
                mark = s.ad.mark()
                st, body = s.post(t)
                assert st == 200, (st, body)
                if i > 0:
                    s.ad.wait_log(r"Taking update locks", 30, since=mark)
                    time.sleep(rng.uniform(0, 0.5))  # the cut, at a random point
                    kids = s.ad.children()
                    os.kill(s.ad.pid, signal.SIGKILL)
                    for pid in kids.values():
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    s.ad.proc.wait(10)
                    foreign = [(p, u) for p, u in lock_files(s.ad.rundir) if u != NOBODY]
                    assert not foreign, "%s: lock files not agentd's: %s" % (where, foreign)
                    ok, _ = db_rows(s.ad.datadir, copy=True)
                    assert ok == "ok", "%s: integrity_check: %s" % (where, ok)
                    s.ad = lib.Agentd(args=["-s", eng.sock], workdir=first.dir).__enter__()
                    agents.append(s.ad)
                s.wait_applied(t, 90)
                left = lock_files(s.ad.rundir)
                assert not left, "%s: locks left once applied: %s" % (where, left)
        finally:
            for a in agents:
                a.__exit__(None, None, None)
            s.ad = first  # its exit removes the directory


test_power_cuts_mid_apply_under_update_locks_leave_no_lock_behind.timeout_s = 300

"""test_takeover.py - taking a device over from the Node supervisor in place
(issue 12), on the real engine.

What the Node supervisor v19.0.5 left on its fixture device
(test/fixtures/node-v19: the engine inspects of its three containers, its
networks and volume, its database.sqlite) is made again on the private
engine: the containers from their recorded configs, with the same names and
labels, on images with the same (empty) config. agentd then starts on a data
dir holding Node's database and must change nothing: no container created,
removed, started, stopped, killed or renamed in the first minute; the
services Running; a service's scoped key (from its container's env) valid;
the imported commit in /v1/device. A new release with one changed service
recreates only that service and renames the others, and what agentd made is
in turn what the Node supervisor's comparison calls unchanged (the way back).
A Node database agentd cannot trust leaves the apps as they are.
"""
import copy
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import time

import lib
from engine import engine
from fake_cloud import DEVICE_ID, FakeCloud

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "test", "fixtures", "node-v19")
APP = "1011"
COMMIT = "9d8e7f6a5b4c4d3e2f1a0b9c8d7e6f5a"
SCOPED_KEY = "052f4fbc85664d73840fcc60b6e4b0cb"
GLOBAL_KEY = "2da82e2625b74f46b467d6a10e870a24"
IMAGES = ("acc/busybox:1", "acc/busybox:2")
MUTATIONS = ("create", "destroy", "start", "stop", "kill", "rename", "die", "restart")


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return json.load(f)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def busybox_rootfs(marker):
    """A tarball of busybox with sh and sleep, and a file that tells images apart."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
        for name in ("sh", "sleep"):
            link = tarfile.TarInfo("bin/" + name)
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        data = marker.encode()
        info = tarfile.TarInfo("etc/image")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class NodeDevice:
    """The fixture device as the Node supervisor left it, on the engine.

    `port` is the supervisor API port the Node supervisor ran on and
    `host_port` frontend's published port (both free ports here, where the
    fixture had 48777 and 8080); `cloud` the cloud it was managed by (None: local
    mode, as recorded)."""

    def __init__(self, eng, workdir, port, host_port, cloud=None):
        self.eng = eng
        self.dir = workdir
        self.rundir = os.path.join(workdir, "run")
        self.datadir = os.path.join(workdir, "data")
        self.node_db = os.path.join(self.datadir, "database.sqlite")
        self.port = port
        self.host_port = host_port
        self.cloud = cloud
        self.made_images = []
        self.made_supervisor0 = False
        self.ids = {}  # service -> container id

    # ---- the database

    def write_db(self, newer=False):
        os.makedirs(self.datadir, exist_ok=True)
        shutil.copyfile(os.path.join(FIX, "database.sqlite"), self.node_db)
        db = sqlite3.connect(self.node_db)
        try:
            (services,) = db.execute("SELECT services FROM app WHERE uuid = ?", (APP,)).fetchone()
            services = json.loads(services)
            for s in services:
                ports = s["composition"].get("ports")
                if ports:
                    s["composition"]["ports"] = ["127.0.0.1:%d:80" % self.host_port]
            db.execute("UPDATE app SET services = ? WHERE uuid = ?", (json.dumps(services), APP))
            if self.cloud is not None:
                (values,) = db.execute("SELECT targetValues FROM deviceConfig").fetchone()
                values = dict(json.loads(values), SUPERVISOR_LOCAL_MODE="false")
                db.execute("UPDATE deviceConfig SET targetValues = ?", (json.dumps(values),))
                db.execute("UPDATE config SET value = 'false' WHERE key = 'localMode'")
                db.execute("UPDATE app SET source = ?", (self.cloud.url,))
                db.execute("INSERT INTO config (key, value) VALUES ('initialConfigReported', ?)",
                           (self.cloud.url,))
            if newer:
                db.execute("INSERT INTO knex_migrations (name, batch, migration_time) "
                           "VALUES ('M00013.js', 2, 0)")
            db.commit()
        finally:
            db.close()

    def node_app(self):
        """The app row of Node's database: its services, networks and volumes."""
        db = sqlite3.connect("file:%s?mode=ro" % self.node_db, uri=True)
        try:
            row = db.execute("SELECT services, networks, volumes FROM app WHERE uuid = ?",
                             (APP,)).fetchone()
        finally:
            db.close()
        return [json.loads(x) for x in row]

    def node_services(self):
        return self.node_app()[0]

    def v3_target(self, services=None, commit=COMMIT, release=2101):
        """What the cloud serves: the app Node's database has (or `services`)."""
        row_services, networks, volumes = self.node_app()
        svcs = {}
        for s in services or row_services:
            svcs[s["serviceName"]] = {
                "id": s["serviceId"], "image_id": s["imageId"], "image": s["image"],
                "environment": s["environment"], "labels": s["labels"],
                "running": s.get("running", True), "composition": s["composition"]}
        return {fixture("config.json")["uuid"]: {
            "name": "nodesup-fixture",
            "config": {"SUPERVISOR_LOCAL_MODE": "false", "SUPERVISOR_VPN_CONTROL": "true"},
            "apps": {APP: {"id": int(APP), "name": "fixture-app", "class": "fleet",
                           "releases": {commit: {"id": release, "services": svcs,
                                                 "volumes": volumes,
                                                 "networks": networks}}}}}}

    # ---- the engine

    def make(self):
        self.remove()  # what an interrupted run may have left
        self.images = {}
        for i, ref in enumerate(IMAGES):
            if self.eng.docker("images", "-q", ref):
                raise AssertionError("%s is in the engine already: not the test's to replace" % ref)
            path = os.path.join(self.dir, "rootfs-%d.tar" % i)
            with open(path, "wb") as f:
                f.write(busybox_rootfs("image %d\n" % (i + 1)))
            self.eng.docker("import", path, ref)
            self.made_images.append(ref)
            self.images[ref] = self.eng.docker("image", "inspect", "--format", "{{.Id}}", ref)
        for v in fixture("volumes.json"):
            if v["Name"].startswith(APP + "_"):
                self.api("POST", "/volumes/create", {"Name": v["Name"], "Driver": v["Driver"],
                                                     "Labels": v["Labels"]})
        for n in fixture("networks.json"):
            if n["Name"] == "supervisor0":
                if self.eng.docker("network", "ls", "-q", "--filter", "name=^supervisor0$"):
                    continue
                self.made_supervisor0 = True
            body = {"Name": n["Name"], "Driver": n["Driver"], "CheckDuplicate": True,
                    "Labels": n["Labels"], "Options": n["Options"] or {},
                    "EnableIPv6": n["EnableIPv6"], "Internal": n["Internal"]}
            if n["Name"] != APP + "_default":  # the engine chose that one's subnet
                body["IPAM"] = n["IPAM"]
            self.api("POST", "/networks/create", body)
        by_service = {}
        for c in fixture("containers.json"):
            by_service[c["Config"]["Labels"]["io.balena.service-name"]] = c
        for service in ("api", "frontend", "worker"):  # Node's order: depends_on
            c = by_service[service]
            image = IMAGES[0] if c["Image"].endswith("71b32e7ca024b59f3d8716285c681efacaf83d99fe62f2a4d4381ba45e3556ab") \
                else IMAGES[1]
            st, body = self.api("POST", "/containers/create?name=" + c["Name"].lstrip("/"),
                                self.create_body(c, self.images[image]))
            cid = body["Id"]
            self.ids[service] = cid
            for net, ep in c["NetworkSettings"]["Networks"].items():
                if net == c["HostConfig"]["NetworkMode"]:
                    continue
                self.api("POST", "/networks/%s/connect" % net,
                         {"Container": cid, "EndpointConfig": {
                             "Aliases": [a for a in ep["Aliases"] if a != c["Id"][:12]]}})
            self.api("POST", "/containers/%s/start" % cid)

    def create_body(self, inspect, image_id):
        """The create call that gives the container Node made, here."""
        cfg = copy.deepcopy(inspect["Config"])
        short = inspect["Id"][:12]
        if cfg.get("Hostname") == short:
            del cfg["Hostname"]  # the engine's default, not Node's choice
        cfg["Image"] = image_id
        cfg["Env"] = [e.replace(":48777", ":%d" % self.port).replace("_PORT=48777",
                                                                      "_PORT=%d" % self.port)
                      for e in cfg["Env"]]
        hc = copy.deepcopy(inspect["HostConfig"])
        for k in ("CgroupnsMode", "ConsoleSize"):  # this engine's defaults, not Node's
            hc.pop(k, None)
        hc["Binds"] = [b.replace("/tmp/balena-supervisor", self.rundir) for b in hc["Binds"]]
        if hc.get("PortBindings"):
            hc["PortBindings"] = {"80/tcp": [{"HostIp": "127.0.0.1",
                                              "HostPort": str(self.host_port)}]}
        net = hc["NetworkMode"]
        ep = inspect["NetworkSettings"]["Networks"][net]
        cfg["HostConfig"] = hc
        cfg["NetworkingConfig"] = {"EndpointsConfig": {net: {
            "Aliases": [a for a in ep["Aliases"] if a != short],
            "IPAMConfig": ep.get("IPAMConfig") or {}}}}
        return cfg

    def api(self, method, path, body=None):
        st, text = self.eng.api(method, path, body)
        if st >= 300:
            raise AssertionError("engine %s %s: %d %s" % (method, path, st, text))
        return st, json.loads(text) if text.startswith("{") else text

    def containers(self):
        """{name: id} of the app's containers."""
        out = self.eng.docker("ps", "-a", "--filter", "label=io.balena.app-id=" + APP,
                              "--format", "{{.Names}} {{.ID}}")
        return dict(line.split() for line in out.splitlines() if line.strip())

    def running(self):
        out = self.eng.docker("ps", "--filter", "label=io.balena.app-id=" + APP,
                              "--format", "{{.Names}}")
        return sorted(out.split())

    def remove(self):
        ids = self.eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + APP,
                              check=False).split()
        if ids:
            self.eng.docker("rm", "-f", *ids, check=False)
        for n in (APP + "_backnet", APP + "_default"):
            self.eng.docker("network", "rm", n, check=False)
        if self.made_supervisor0:
            self.eng.docker("network", "rm", "supervisor0", check=False)
        self.eng.docker("volume", "rm", "-f", APP + "_appdata", check=False)
        for ref in self.made_images:
            self.eng.docker("rmi", "-f", ref, check=False)
        self.made_images = []
        # images agentd made for a later release of the test's own app
        for ref in self.eng.docker("images", "--format", "{{.Repository}}:{{.Tag}}",
                                   "acc/busybox", check=False).split():
            self.eng.docker("rmi", "-f", ref, check=False)


def events(eng, since, until=None):
    args = ["events", "--since", "%.3f" % since, "--until", "%.3f" % (until or time.time()),
            "--format", "{{json .}}"]
    return [json.loads(line) for line in eng.docker(*args).splitlines() if line.strip()]


def mutations(evs):
    """Every change to a container, network, volume or image in the events."""
    out = []
    for e in evs:
        kind, action = e.get("Type"), e.get("Action", "")
        name = e.get("Actor", {}).get("Attributes", {}).get("name", e.get("Actor", {}).get("ID"))
        if kind == "container" and action.split(":")[0] in MUTATIONS:
            out.append((kind, action, name))
        elif kind in ("network", "volume") and action in ("create", "destroy", "remove",
                                                            "connect", "disconnect"):
            out.append((kind, action, name))
        elif kind == "image" and action in ("pull", "delete", "untag", "tag", "import"):
            out.append((kind, action, name))
    return out


def node_config(cloud, port):
    """The fixture's config.json on a device managed by `cloud`, listening on `port`."""
    cfg = fixture("config.json")
    cfg.pop("localMode", None)
    cfg.update({"apiEndpoint": cloud.url, "balenaRootCA": cloud.ca_b64, "deviceId": DEVICE_ID,
                "registered_at": 1700000000000, "listenPort": port,
                "appUpdatePollInterval": 500})
    return cfg


def node_env():
    return {"HOST_OS_VERSION_PATH": os.path.join(FIX, "os-release")}


def test_a_node_device_is_taken_over_without_touching_an_app_and_can_go_back():
    eng = engine()
    work = lib.make_tmpdir()
    port, host_port = lib.free_port(), lib.free_port()
    stray = None
    with FakeCloud() as cloud:
        dev = NodeDevice(eng, work, port, host_port, cloud)
        try:
            dev.write_db()
            node_hash = sha256(dev.node_db)
            dev.make()
            # A container with Node's labels but a name it does not parse.
            stray_name = "stray-%d" % os.getpid()
            _, body = dev.api("POST", "/containers/create?name=" + stray_name, {
                "Image": dev.images[IMAGES[0]], "Cmd": ["sh", "-c", "trap 'exit 0' TERM; "
                                                        "while :; do sleep 0.1; done"],
                "Labels": {"io.balena.supervised": "true", "io.balena.app-id": APP,
                           "io.balena.service-id": "9", "io.balena.service-name": "stray"},
                "HostConfig": {"NetworkMode": "none"}})
            stray = body["Id"]
            dev.api("POST", "/containers/%s/start" % stray)
            before = dev.containers()
            cloud.device_keys.add(fixture("config.json")["deviceApiKey"])
            cloud.target = dev.v3_target()

            t0 = time.time()
            with lib.Agentd(args=["-s", eng.sock], config=node_config(cloud, port),
                            workdir=work, env=node_env()) as ad:
                ad.port = port
                m = ad.wait_log(r"Took over the device from the Node supervisor: "
                                r"(\d+) services adopted as they were, (\d+) made again", 60)
                assert m.group(1, 2) == ("3", "0"), ad.log_tail(40)
                log = ad.log()
                for svc in ("api", "frontend", "worker"):
                    assert "Adopted service '%s' (no change)" % svc in log, log
                assert "takeover: imported 2 API keys (unchanged)" in log, log
                assert ("Container '%s' has the supervisor's labels but its name is not "
                        "<service>_<imageId>_<releaseId>_<commit>: it is left alone"
                        % stray_name) in log, log

                # the key in frontend's env is still valid, with its app's scope
                env = json.loads(eng.docker("inspect", "--format", "{{json .Config.Env}}",
                                            dev.ids["frontend"]))
                key = [e.split("=", 1)[1] for e in env
                       if e.startswith("BALENA_SUPERVISOR_API_KEY=")][0]
                assert key == SCOPED_KEY
                st, text = ad.http("GET", "/v2/applications/state?apikey=" + key)
                assert st == 200, (st, text)
                state = json.loads(text)
                app = state["fixture-app"]
                assert {s: v["status"] for s, v in app["services"].items()} == \
                    {"api": "Running", "frontend": "Running", "worker": "Running"}, state
                assert ad.http("GET", "/v2/applications/state?apikey=" + "0" * 32)[0] == 401
                st, text = ad.http("GET", "/v1/device?apikey=" + GLOBAL_KEY)
                assert st == 200 and json.loads(text)["commit"] == COMMIT, (st, text)

                # the cloud's target (the same) is fetched, and the release reported
                def reported():
                    for r in cloud.find("PATCH", "/device/v3/state"):
                        rel = r[3].get(fixture("config.json")["uuid"], {}).get("apps", {}) \
                            .get(APP, {}).get("releases", {}).get(COMMIT)
                        if rel and rel.get("update_status") == "done":
                            return True
                    return False
                lib.wait_until(reported, 30, what="the release reported done to the cloud")
                # initialConfigReported came over: nothing re-sent to the cloud
                assert cloud.find("POST", "/v7/device_config_variable") == []

                # the first minute: not one container, network, volume or image touched
                lib.wait_until(lambda: time.time() >= t0 + 60, 70, interval=0.5,
                               what="the first minute")
                assert mutations(events(eng, t0)) == [], mutations(events(eng, t0))
                assert dev.containers() == before
                assert eng.docker("inspect", "--format", "{{.State.Running}}", stray) == "true"
                assert sha256(dev.node_db) == node_hash, "Node's database was written"

                # A new release with one changed service: worker is made again, the
                # others are renamed (a commit-only change for them).
                services = dev.node_services()
                for s in services:
                    if s["serviceName"] == "worker":
                        s["environment"] = dict(s["environment"], WORKERS="3")
                        s["imageId"] = 3104
                commit2 = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
                t1 = time.time()
                cloud.target = dev.v3_target(services, commit2, 2102)
                polls = len(cloud.find("GET", "/device/v3/"))
                st, text = ad.http("POST", "/v1/update?apikey=" + GLOBAL_KEY, "{}",
                                   {"Content-Type": "application/json"})
                assert st in (200, 202, 204), (st, text)
                lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) > polls, 20,
                               what="the poll /v1/update asks for")

                def on_release2():
                    names = sorted(dev.containers())
                    return names == sorted(["api_3102_2102_" + commit2,
                                            "frontend_3101_2102_" + commit2,
                                            "worker_3104_2102_" + commit2, stray_name])
                try:
                    lib.wait_until(on_release2, 90, interval=0.3, what="release 2 applied")
                except AssertionError as e:
                    raise AssertionError("%s: %s; log: %s" % (e, dev.containers(),
                                                             ad.log_tail(30))) from None
                ad.wait_log(r"target state applied", 30, since=len(log))
                after = dev.containers()
                assert after["api_3102_2102_" + commit2] == before[
                    "api_3102_2101_" + COMMIT]
                assert after["frontend_3101_2102_" + commit2] == before[
                    "frontend_3101_2101_" + COMMIT]
                assert after["worker_3104_2102_" + commit2] != before[
                    "worker_3103_2101_" + COMMIT]
                changed = mutations(events(eng, t1))
                touched = {n for kind, _a, n in changed if kind == "container"}
                assert touched <= {"worker_3103_2101_" + COMMIT, "worker_3104_2102_" + commit2,
                                   "api_3102_2102_" + commit2,
                                   "frontend_3101_2102_" + commit2}, changed
                for svc in ("api", "frontend"):
                    acts = [a for kind, a, n in changed if kind == "container" and
                            n.startswith(svc + "_")]
                    assert acts == ["rename"], (svc, changed)
                new = json.loads(eng.docker("inspect", after["worker_3104_2102_" + commit2]))[0]
                assert new["Config"]["Image"].startswith("sha256:"), new["Config"]["Image"]
                assert not [k for k in new["Config"]["Labels"] if "agentd" in k], \
                    new["Config"]["Labels"]
                assert sha256(dev.node_db) == node_hash, "Node's database was written"
                ad.stop()

            # The way back: what agentd made, compared as the Node supervisor
            # compares, is unchanged: forget agentd's records of it and start
            # again: everything is adopted, nothing touched.
            own = sqlite3.connect(os.path.join(dev.datadir, "agentd.sqlite"))
            own.execute("DELETE FROM made")
            own.commit()
            own.close()
            t2 = time.time()
            with lib.Agentd(args=["-s", eng.sock], config=node_config(cloud, port),
                            workdir=work, env=node_env()) as ad:
                ad.port = port
                ad.wait_log(r"target state applied", 60)
                log = ad.log()
                for svc in ("api", "frontend", "worker"):
                    assert "Adopted service '%s' (no change)" % svc in log, log
                assert "takeover:" not in log, log  # imported once only
                assert mutations(events(eng, t2)) == [], mutations(events(eng, t2))
        finally:
            if stray:
                eng.docker("rm", "-f", stray, check=False)
            dev.remove()
            assert cloud.errors == [], cloud.errors
            if not lib.KEEP_TMP:
                shutil.rmtree(work, ignore_errors=True)


# it watches the engine for the first minute, then applies a release
test_a_node_device_is_taken_over_without_touching_an_app_and_can_go_back.timeout_s = 300


def test_a_node_database_agentd_cannot_trust_leaves_the_apps_as_they_are():
    eng = engine()
    work = lib.make_tmpdir()
    port, host_port = lib.free_port(), lib.free_port()
    dev = NodeDevice(eng, work, port, host_port)
    try:
        dev.write_db(newer=True)
        node_hash = sha256(dev.node_db)
        dev.make()
        before = dev.containers()
        cfg = dict(fixture("config.json"), listenPort=port)
        t0 = time.time()
        with lib.Agentd(args=["-s", eng.sock], config=cfg, workdir=work, env=node_env()) as ad:
            ad.port = port
            ad.wait_log(r"Not taking over the device: the Node supervisor's database could not "
                        r"be imported \(it was written by a newer Node supervisor \(migration "
                        r"M00013\.js", 30)
            lib.wait_until(lambda: "engine" in ad.log() and "connected" in ad.log(), 20,
                           what="engine connected")
            # the engine is there and the apply loop ran: it holds
            st, text = ad.http("GET", "/v2/state/status")
            assert st == 200, (st, text)
            assert dev.running() == sorted(before), dev.running()
            assert mutations(events(eng, t0)) == [], mutations(events(eng, t0))
        assert sha256(dev.node_db) == node_hash, "Node's database was written"
        own = sqlite3.connect(os.path.join(dev.datadir, "agentd.sqlite"))
        try:
            assert own.execute("SELECT count(*) FROM api_secret WHERE key = ?",
                               (SCOPED_KEY,)).fetchone()[0] == 0
        finally:
            own.close()
    finally:
        dev.remove()
        if not lib.KEEP_TMP:
            shutil.rmtree(work, ignore_errors=True)

"""test_state_engine.py - the state engine against the real engine, driven
through the local API (issue 4): names, labels, env, volumes and networks;
no mutation on re-apply; rename on a commit-only release; recreate on a
config change; update strategies; update locks; hand-over; depends_on;
crash recovery; invalid targets.

Every test removes the containers, volumes, networks and images it made.
"""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import lib
from engine import engine, unique

# A service that exits on TERM, so stops are quick.
WAIT = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def app_id():
    return str(int(time.time() * 1000) % 1000000000 + os.getpid() % 1000)


def service(sid, name, image, image_id, env=None, labels=None, **compose):
    s = {"serviceName": name, "imageId": image_id, "image": image,
         "environment": env or {}, "labels": labels or {}, "running": True,
         "command": ["sh", "-c", WAIT], "network_mode": "none"}
    s.update(compose)
    return str(sid), s


def target(aid, commit, release, services, volumes=None, name="agentd-test"):
    return {"local": {"name": name, "config": {"SUPERVISOR_LOCAL_MODE": "true"},
                      "apps": {aid: {"name": "app" + aid, "commit": commit, "releaseId": release,
                                     "services": dict(services), "volumes": volumes or {},
                                     "networks": {}}}}}


class State:
    """agentd on the real engine, with cleanup of everything of app `aid`."""

    def __init__(self, aid, **kw):
        self.eng = engine()
        self.aid = aid
        self.kw = kw

    def __enter__(self):
        self.ad = lib.Agentd(args=["-s", self.eng.sock], **self.kw).__enter__()
        try:
            lib.wait_until(lambda: "engine" in self.ad.log() and
                           "connected" in self.ad.log(), 20, what="engine connected")
        except BaseException:
            self.__exit__(*sys.exc_info())  # `with` does not call it when entering fails
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.ad.__exit__(*exc)
        finally:
            self.cleanup()
        return False

    def cleanup(self):
        ids = self.eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + self.aid,
                              check=False)
        if ids:
            self.eng.docker("rm", "-f", *ids.split(), check=False)
        for v in self.eng.docker("volume", "ls", "-q", "--filter", "name=%s_" % self.aid,
                                 check=False).split():
            self.eng.docker("volume", "rm", "-f", v, check=False)
        for n in self.eng.docker("network", "ls", "-q", "--filter",
                                 "label=io.balena.app-id=" + self.aid, check=False).split():
            self.eng.docker("network", "rm", n, check=False)

    def post(self, t):
        st, body = self.ad.http("POST", "/v2/local/target-state", json.dumps(t),
                                {"Content-Type": "application/json"})
        return st, json.loads(body) if body.startswith("{") else body

    def apply(self, t, timeout=60):
        st, body = self.post(t)
        assert st == 200, (st, body)
        self.wait_applied(t, timeout)

    def status(self):
        st, body = self.ad.http("GET", "/v2/state/status")
        assert st == 200, (st, body)
        return json.loads(body)

    def containers(self):
        """{service name: inspect} of the app's containers (all states)."""
        ids = self.eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=" + self.aid,
                              check=False).split()
        out = {}
        for i in ids:
            text = self.eng.docker("inspect", i, check=False)
            found = json.loads(text) if text.startswith("[") else []
            if not found:
                continue  # removed between the listing and the inspect
            info = found[0]
            out.setdefault(info["Config"]["Labels"]["io.balena.service-name"], []).append(info)
        return out

    def wait_applied(self, t, timeout=60):
        services = t["local"]["apps"][self.aid]["services"]
        want = {s["serviceName"]: "%s_%s_%s_%s" % (s["serviceName"], s["imageId"],
                                                   t["local"]["apps"][self.aid]["releaseId"],
                                                   t["local"]["apps"][self.aid]["commit"])
                for s in services.values()}

        def done():
            st, body = self.ad.http("GET", "/v2/state/status")
            if st != 200 or json.loads(body)["appState"] != "applied":
                return False  # 503 until agentd has its engine back
            cs = self.containers()
            for name, cname in want.items():
                if len(cs.get(name, [])) != 1 or cs[name][0]["Name"] != "/" + cname:
                    return False
            return len(cs) == len(want)
        lib.wait_until(done, timeout, interval=0.2, what="target applied; log: ...")


def events_since(eng, since, until=None):
    """Engine events between two unix times, as dicts."""
    args = ["events", "--since", "%.3f" % since, "--until", "%.3f" % (until or time.time()),
            "--format", "{{json .}}"]
    return [json.loads(line) for line in eng.docker(*args).splitlines() if line.strip()]


def mutations(evs, aid):
    return [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in evs
            if e.get("Type") == "container"
            and e["Actor"]["Attributes"].get("io.balena.app-id") == aid
            and e["Action"] in ("create", "destroy", "rename", "kill", "stop", "start", "die")]


def test_two_service_app_gets_balena_names_labels_env_volumes_network():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        t = target(aid, "deadbeef", 1, [service(1, "one", img, 11, volumes=["data:/data"]),
                                         service(2, "two", img, 12)],
                   volumes={"data": {}})
        s.apply(t)
        cs = s.containers()
        one = cs["one"][0]
        assert one["Name"] == "/one_11_1_deadbeef"
        assert cs["two"][0]["Name"] == "/two_12_1_deadbeef"
        labels = one["Config"]["Labels"]
        assert labels["io.balena.supervised"] == "true"
        assert labels["io.balena.app-id"] == aid
        assert labels["io.balena.app-uuid"] == aid  # local mode: the app id is its uuid
        assert labels["io.balena.service-id"] == "1"
        assert labels["io.balena.service-name"] == "one"
        env = dict(e.split("=", 1) for e in one["Config"]["Env"])
        for k, v in (("BALENA_APP_ID", aid), ("RESIN_APP_ID", aid), ("BALENA_SERVICE_NAME", "one"),
                     ("BALENA_APP_LOCK_PATH", "/tmp/balena/updates.lock"),
                     ("BALENA_SERVICE_HANDOVER_COMPLETE_PATH", "/tmp/balena/handover-complete"),
                     ("BALENA", "1"), ("RESIN", "1"), ("USER", "root")):
            assert env.get(k) == v, (k, env.get(k))
        mounts = {m["Destination"]: m for m in one["Mounts"]}
        assert mounts["/data"]["Name"] == "%s_data" % aid
        assert mounts["/tmp/balena"]["Source"].endswith("/services/%s/one" % aid)
        assert mounts["/tmp/resin"]["Source"] == mounts["/tmp/balena"]["Source"]
        assert one["State"]["Running"]
        nets = s.eng.docker("network", "ls", "--format", "{{.Name}}").split()
        assert "%s_default" % aid in nets
        st = s.status()
        assert st["status"] == "success" and st["release"] == "deadbeef"
        assert sorted(c["serviceName"] for c in st["containers"]) == ["one", "two"]


def test_reapplying_the_same_target_changes_nothing():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        t = target(aid, "c1", 1, [service(1, "one", img, 11), service(2, "two", img, 12)])
        s.apply(t)
        ids = {k: v[0]["Id"] for k, v in s.containers().items()}
        t0 = time.time()
        s.apply(t)
        # several rounds would have run by now if anything were to change
        time.sleep(1.5)
        assert mutations(events_since(s.eng, t0), aid) == []
        assert {k: v[0]["Id"] for k, v in s.containers().items()} == ids


def test_commit_only_release_renames_the_same_container():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11)]))
        before = s.containers()["one"][0]["Id"]
        s.apply(target(aid, "c2", 2, [service(1, "one", img, 11)]))
        after = s.containers()["one"][0]
        assert after["Id"] == before
        assert after["Name"] == "/one_11_2_c2"


def test_environment_change_recreates_only_that_service():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11, env={"A": "1"}),
                                      service(2, "two", img, 12)]))
        ids = {k: v[0]["Id"] for k, v in s.containers().items()}
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11, env={"A": "2"}),
                                      service(2, "two", img, 12)]))
        cs = s.containers()
        assert cs["one"][0]["Id"] != ids["one"]
        assert "A=2" in cs["one"][0]["Config"]["Env"]
        assert cs["two"][0]["Id"] == ids["two"]


def named_target(aid, version):
    """One service on an internal network and a volume, one service on
    neither; `version` goes into the network's and the volume's config."""
    img = engine().local_image
    t = target(aid, "c1", 1, [
        service(1, "one", img, 11, network_mode=None, networks=["back"],
                volumes=["data:/data"]),
        service(2, "two", img, 12)])
    app = t["local"]["apps"][aid]
    app["networks"] = {"back": {"internal": True, "labels": {"version": str(version)},
                                "ipam": {"config": [{"subnet": "10.231.%d.0/24" % version}]}}}
    app["volumes"] = {"data": {"labels": {"version": str(version)}}}
    app["services"]["1"].pop("network_mode")
    return t


def test_network_and_volume_config_changes_recreate_them_and_their_containers():
    aid = app_id()
    with State(aid) as s:
        eng = s.eng
        net, vol = "%s_back" % aid, "%s_data" % aid
        s.apply(named_target(aid, 1))
        cs = s.containers()
        one, two = cs["one"][0]["Id"], cs["two"][0]["Id"]
        n1 = json.loads(eng.docker("network", "inspect", net))[0]
        assert n1["Internal"] is True and n1["Labels"]["version"] == "1", n1
        assert n1["IPAM"]["Config"][0]["Subnet"] == "10.231.1.0/24", n1["IPAM"]
        assert n1["Labels"].get("io.balena.private.ipam.config") == "true", n1["Labels"]
        assert net in cs["one"][0]["NetworkSettings"]["Networks"]
        assert json.loads(eng.docker("volume", "inspect", vol))[0]["Labels"]["version"] == "1"
        exec_out = eng.docker("exec", one, "sh", "-c", "echo kept > /data/marker && echo ok")
        assert exec_out.strip() == "ok"
        # the same target again changes nothing
        s.apply(named_target(aid, 1))
        assert json.loads(eng.docker("network", "inspect", net))[0]["Id"] == n1["Id"]
        assert s.containers()["one"][0]["Id"] == one
        # new configs: both are made again, with the service on them
        s.apply(named_target(aid, 2))
        n2 = json.loads(eng.docker("network", "inspect", net))[0]
        assert n2["Id"] != n1["Id"] and n2["Labels"]["version"] == "2", n2
        assert n2["IPAM"]["Config"][0]["Subnet"] == "10.231.2.0/24", n2["IPAM"]
        assert json.loads(eng.docker("volume", "inspect", vol))[0]["Labels"]["version"] == "2"
        cs = s.containers()
        assert cs["one"][0]["Id"] != one and cs["one"][0]["State"]["Running"]
        assert net in cs["one"][0]["NetworkSettings"]["Networks"]
        assert cs["two"][0]["Id"] == two, "a service on neither was recreated"
        # as balena does: a volume made again starts empty
        got = eng.docker("exec", cs["one"][0]["Id"], "sh", "-c",
                         "cat /data/marker 2>/dev/null || echo gone")
        assert got.strip() == "gone", got



def test_a_network_that_loses_its_ipam_config_is_made_again_without_the_label():
    aid = app_id()
    with State(aid) as s:
        eng = s.eng
        net = "%s_back" % aid
        s.apply(named_target(aid, 3))
        n1 = json.loads(eng.docker("network", "inspect", net))[0]
        assert n1["Labels"].get("io.balena.private.ipam.config") == "true", n1["Labels"]
        t = named_target(aid, 3)
        del t["local"]["apps"][aid]["networks"]["back"]["ipam"]
        s.apply(t)
        n2 = json.loads(eng.docker("network", "inspect", net))[0]
        assert n2["Id"] != n1["Id"], "a network that lost its IPAM config was kept"
        assert "io.balena.private.ipam.config" not in n2["Labels"], n2["Labels"]
        assert net in s.containers()["one"][0]["NetworkSettings"]["Networks"]

def test_supervisor_api_service_joins_supervisor0_and_is_told_its_gateway():
    aid = app_id()
    eng = engine()
    if eng.docker("network", "ls", "-q", "--filter", "name=^supervisor0$"):
        raise lib.Skip("this engine has a supervisor0 network already")
    try:
        with State(aid) as s:
            t = target(aid, "c1", 1, [
                service(1, "api", eng.local_image, 11,
                        labels={"io.balena.features.supervisor-api": "1"}),
                service(2, "plain", eng.local_image, 12)])
            for svc in t["local"]["apps"][aid]["services"].values():
                svc.pop("network_mode")  # on the app's default network
            s.apply(t)
            net = json.loads(eng.docker("network", "inspect", "supervisor0"))[0]
            assert net["IPAM"]["Config"] == [{"Subnet": "10.114.104.0/25",
                                              "Gateway": "10.114.104.1"}], net["IPAM"]
            assert net["Options"].get("com.docker.network.bridge.name") == "supervisor0"
            cs = s.containers()
            api, plain = cs["api"][0], cs["plain"][0]
            assert set(api["NetworkSettings"]["Networks"]) == {"%s_default" % aid, "supervisor0"}
            assert set(plain["NetworkSettings"]["Networks"]) == {"%s_default" % aid}
            env = dict(e.split("=", 1) for e in api["Config"]["Env"])
            assert env["BALENA_SUPERVISOR_HOST"] == "10.114.104.1", env
            assert env["BALENA_SUPERVISOR_ADDRESS"] == "http://10.114.104.1:%d" % s.ad.port
            # applying again changes nothing
            s.apply(t)
            assert s.containers()["api"][0]["Id"] == api["Id"]
    finally:  # after State has stopped agentd and removed the app
        eng.docker("network", "rm", "supervisor0", check=False)

def test_requires_reboot_service_is_created_then_the_device_reboots_once():
    aid = app_id()
    with lib.TempDir() as tmp, State(aid, settings={
            "reboot_command": ["sh", "-c", "echo reboot >> %s/reboot.txt" % tmp]}) as s:
        t = target(aid, "c1", 1, [
            service(1, "fw", s.eng.local_image, 11,
                    labels={"io.balena.update.requires-reboot": "1"}),
            service(2, "plain", s.eng.local_image, 12)])
        s.apply(t)
        cs = s.containers()
        assert cs["fw"][0]["State"]["Status"] == "created", cs["fw"][0]["State"]
        assert cs["plain"][0]["State"]["Running"]
        assert os.path.exists(os.path.join(s.ad.rundir, "reboot-after-apply"))
        assert "Reboot has been scheduled to apply changes" in s.ad.log()
        path = os.path.join(tmp, "reboot.txt")
        lib.wait_until(lambda: os.path.exists(path), 10, what="the reboot command")
        # the loop has settled (applied): it asked for one reboot only
        s.apply(t)
        with open(path) as f:
            assert f.read() == "reboot\n"


def test_a_failed_reboot_for_requires_reboot_gives_the_locks_back():
    aid = app_id()
    with lib.TempDir() as tmp, State(aid, settings={
            "reboot_command": ["sh", "-c", "echo tried >> %s/reboot.txt; exit 1" % tmp]}) as s:
        s.post(target(aid, "c1", 1, [
            service(1, "fw", s.eng.local_image, 11,
                    labels={"io.balena.update.requires-reboot": "1"})]))
        s.ad.wait_log(r"The reboot or shutdown command failed \(exit status 1\)", 30)
        assert "Rebooting: a service needs a reboot to start" in s.ad.log()
        with open(os.path.join(tmp, "reboot.txt")) as f:
            assert f.read() == "tried\n"  # once: the next try waits 30 s
        lockdir = os.path.join(s.ad.rundir, "services", aid, "fw")
        lib.wait_until(lambda: not os.path.exists(os.path.join(lockdir, "updates.lock")), 10,
                       what="the reboot's locks given back")
        assert s.containers()["fw"][0]["State"]["Status"] == "created"


def order_of(evs, aid, image):
    """[(kind, detail)] of the container kills and the image pull, in engine order."""
    out = []
    for e in evs:
        a = e["Actor"]["Attributes"]
        if e.get("Type") == "container" and a.get("io.balena.app-id") == aid and \
                e["Action"] in ("destroy", "start"):
            out.append((e["Action"], a.get("name")))
        elif e.get("Type") == "image" and e["Action"] == "pull" and e["Actor"]["ID"] == image:
            out.append(("pull", image))
    return out


def strategy_order(strategy):
    aid = app_id()
    with State(aid) as s:
        eng = s.eng
        eng.docker("rmi", "-f", eng.image, check=False)
        try:
            lbl = {"io.balena.update.strategy": strategy}
            s.apply(target(aid, "c1", 1, [service(1, "one", eng.local_image, 11, labels=lbl)]))
            t0 = time.time()
            s.apply(target(aid, "c2", 2, [service(1, "one", eng.image, 21, labels=lbl)]), 120)
            return order_of(events_since(eng, t0), aid, eng.image)
        finally:
            eng.docker("rmi", "-f", eng.image, check=False)


def test_download_then_kill_pulls_before_killing():
    order = [k for k, _ in strategy_order("download-then-kill")]
    assert order.index("pull") < order.index("destroy") < order.index("start"), order


def test_kill_then_download_kills_before_pulling():
    order = [k for k, _ in strategy_order("kill-then-download")]
    assert order.index("destroy") < order.index("pull") < order.index("start"), order


def test_user_lock_blocks_the_kill_until_removed():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11, env={"V": "1"})]))
        old = s.containers()["one"][0]["Id"]
        lock = os.path.join(s.ad.rundir, "services", aid, "one", "updates.lock")
        with open(lock, "w"):
            pass  # owned by root: the application's lock
        mark = s.ad.mark()
        st, _ = s.post(target(aid, "c1", 1, [service(1, "one", img, 11, env={"V": "2"})]))
        assert st == 200
        s.ad.wait_log(r"Updates are locked, retrying in .*Reason: Lockfile exists for "
                      r"\{ appId: %s, service: one \}" % aid, 20, since=mark)
        assert s.containers()["one"][0]["Id"] == old
        os.unlink(lock)
        s.wait_applied(target(aid, "c1", 1, [service(1, "one", img, 11, env={"V": "2"})]), 60)
        assert s.containers()["one"][0]["Id"] != old


def test_hand_over_keeps_the_old_container_until_handover_complete():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        lbl = {"io.balena.update.strategy": "hand-over",
               "io.balena.update.handover-timeout": "60000"}
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11, env={"V": "1"}, labels=lbl)]))
        old = s.containers()["one"][0]["Id"]
        st, _ = s.post(target(aid, "c1", 1, [service(1, "one", img, 11, env={"V": "2"},
                                                     labels=lbl)]))
        assert st == 200

        def both_running():
            cs = s.containers().get("one", [])
            run = [c for c in cs if c["State"]["Running"]]
            return len(run) == 2 and run
        run = lib.wait_until(both_running, 30, what="old and new running side by side")
        names = sorted(c["Name"] for c in run)
        assert names == ["/old_one_11_1_c1", "/one_11_1_c1"], names
        # the old one keeps running until the application says it is done
        time.sleep(1)
        assert any(c["Id"] == old and c["State"]["Running"] for c in s.containers()["one"])
        with open(os.path.join(s.ad.rundir, "services", aid, "one", "handover-complete"), "w"):
            pass
        lib.wait_until(lambda: [c["Id"] for c in s.containers()["one"]] != [old] and
                       len(s.containers()["one"]) == 1, 30, what="old container removed")
        assert s.containers()["one"][0]["Id"] != old


def test_depends_on_starts_the_dependency_first():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(2, "web", img, 12, depends_on=["db"]),
                                      service(1, "db", img, 11)]))
        cs = s.containers()
        assert cs["db"][0]["State"]["StartedAt"] < cs["web"][0]["State"]["StartedAt"]


def test_running_false_creates_but_does_not_start():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11, running=False)]))
        c = s.containers()["one"][0]
        assert c["State"]["Status"] == "created"


def test_an_extra_firmware_service_gets_the_volume_and_config_json_names_it():
    aid = app_id()
    label = {"io.balena.features.extra-firmware": "1"}
    had_volume = engine().docker("volume", "inspect", "extra-firmware", check=False) != "[]"
    try:
        with State(aid) as s:
            img = s.eng.local_image
            with open(s.ad.config_path) as f:
                before = json.load(f)
            # no service asks for it: config.json is left as it is
            s.apply(target(aid, "c1", 1, [service(1, "one", img, 11)]))
            with open(s.ad.config_path) as f:
                assert json.load(f) == before
            s.apply(target(aid, "c2", 2, [service(1, "one", img, 11, labels=label)]))
            mounts = [(m["Type"], m.get("Name"), m["Destination"])
                      for m in s.containers()["one"][0]["Mounts"]]
            assert ("volume", "extra-firmware", "/extra-firmware") in mounts, mounts
            with open(s.ad.config_path) as f:
                after = json.load(f)
            assert after.pop("os") == {"kernel": {"extraFirmwareVol": "extra-firmware"}}
            assert after == before  # every other key kept
            # said once; another target with it changes nothing more
            t3 = target(aid, "c3", 3, [service(1, "one", img, 11, labels=label),
                                       service(2, "two", img, 12, labels=label)])
            s.apply(t3)
            assert s.ad.log().count("Configuring extra firmware volume") == 1, s.ad.log_tail()
            # a purge makes the volume anew, as the app's own volumes
            old = s.containers()["one"][0]["Id"]
            s.eng.docker("exec", old, "sh", "-c", "echo x > /extra-firmware/marker")
            st, body = s.ad.http("POST", "/v1/purge", json.dumps({"appId": int(aid)}),
                                 {"Content-Type": "application/json"})
            assert st == 200, (st, body)
            lib.wait_until(lambda: old not in [c["Id"] for cs in s.containers().values()
                                               for c in cs], 60, what="the purge")
            s.wait_applied(t3)
            new = s.containers()["one"][0]["Id"]
            assert s.eng.docker("exec", new, "sh", "-c", "test -e /extra-firmware/marker && "
                                "echo kept || echo gone") == "gone"
            assert "Purged the extra firmware volume" in s.ad.log(), s.ad.log_tail()
    finally:
        if not had_volume:
            engine().docker("volume", "rm", "extra-firmware", check=False)


def test_invalid_target_is_rejected_whole_and_nothing_changes():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11)]))
        before = s.containers()["one"][0]["Id"]
        bad = target(aid, "c2", 2, [service(1, "one", img, 11), service(2, "bad name", img, 12)])
        st, body = s.post(bad)
        assert st == 400 and body["status"] == "failed", (st, body)
        assert "service name" in body["message"]
        st, body = s.post({"local": {"apps": "nope"}})
        assert st == 400
        st, body = s.ad.http("POST", "/v2/local/target-state", "{not json",
                             {"Content-Type": "application/json"})
        assert st == 400 and "Malformed JSON" in body
        time.sleep(1)
        assert s.containers()["one"][0]["Id"] == before
        st, body = s.ad.http("GET", "/v2/local/target-state")
        assert json.loads(body)["state"]["local"]["apps"][aid]["commit"] == "c1"


def test_kill_9_of_agentd_mid_apply_converges_without_duplicates():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        t = target(aid, "c1", 1, [service(i, "s%d" % i, img, 10 + i) for i in range(1, 7)])
        st, _ = s.post(t)
        assert st == 200
        lib.wait_until(lambda: s.containers(), 30, what="the first container")
        os.kill(s.ad.pid, signal.SIGKILL)
        s.ad.proc.wait(10)
        for pid, (_n, start) in s.ad.seen_children().items():
            lib.wait_until(lambda: lib.gone(pid, start), 10, what="children to go")
        # restart on the same data and run dirs
        first = s.ad
        ad2 = lib.Agentd(args=["-s", s.eng.sock], workdir=first.dir).__enter__()
        try:
            s.ad = ad2
            s.wait_applied(t, 90)
            for name, cs in s.containers().items():
                assert len(cs) == 1, (name, [c["Name"] for c in cs])
            db = sqlite3.connect(os.path.join(ad2.datadir, "agentd.sqlite"))
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()
        finally:
            ad2.__exit__(None, None, None)
            s.ad = first  # its exit removes the directory


def test_device_info_and_target_state_read_back():
    aid = app_id()
    with State(aid) as s:
        st, body = s.ad.http("GET", "/v2/local/device-info")
        info = json.loads(body)
        assert st == 200 and info["status"] == "success" and info["info"]["arch"]
        t = target(aid, "c9", 3, [service(1, "one", s.eng.local_image, 11)])
        s.apply(t)
        st, body = s.ad.http("GET", "/v2/local/target-state")
        got = json.loads(body)["state"]["local"]
        assert got["name"] == "agentd-test"
        assert got["config"]["SUPERVISOR_LOCAL_MODE"] == "true"
        # the balena supervisor's shape: an App object, its services an array
        app = got["apps"][aid]
        assert (app["appId"], app["appUuid"], app["commit"], app["source"]) == \
            (int(aid), aid, "c9", "local"), app
        assert isinstance(app["services"], list), app["services"]
        assert [x["serviceName"] for x in app["services"]] == ["one"]
        one = app["services"][0]
        assert (one["serviceId"], one["imageId"], one["releaseId"]) == (1, 11, 3), one
        assert one["imageName"] == s.eng.local_image and \
            one["config"]["image"] == one["dockerImageId"], one
        assert one["config"]["labels"]["io.balena.service-name"] == "one"
        assert one["config"]["environment"]["BALENA_SERVICE_NAME"] == "one"
        assert [n["name"] for n in app["networks"]] == ["default"] and app["volumes"] == []
        st, body = s.ad.http("GET", "/v2/applications/state")
        apps = json.loads(body)
        assert apps["app" + aid]["services"]["one"]["status"] == "Running"


def test_contract_violation_rejects_the_app_unless_the_service_is_optional():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, [service(1, "one", img, 11)]))
        before = s.containers()["one"][0]["Id"]
        impossible = {"requires": [{"type": "sw.supervisor", "version": ">99"}]}
        mark = s.ad.mark()
        st, _ = s.post(target(aid, "c2", 2, [service(1, "one", img, 11, env={"X": "1"},
                                                     contract=impossible)]))
        assert st == 200
        s.ad.wait_log(r"Some releases were rejected due to having unmet requirements", 20,
                      since=mark)
        st, body = s.ad.http("GET", "/v2/applications/state")
        assert json.loads(body)["app" + aid]["updateStatus"] == "rejected"
        time.sleep(1)
        assert s.containers()["one"][0]["Id"] == before  # neither changed nor removed
        # the same contract on an optional service skips only that service
        mark = s.ad.mark()
        st, _ = s.post(target(aid, "c3", 3, [
            service(1, "one", img, 11),
            service(2, "extra", img, 12, contract=impossible,
                    labels={"io.balena.features.optional": "1"})]))
        assert st == 200
        s.ad.wait_log(r"Not running containers because of contract violations: extra", 20,
                      since=mark)
        lib.wait_until(lambda: s.containers().get("one") and
                       s.containers()["one"][0]["Name"] == "/one_11_3_c3", 30,
                       what="one renamed to release 3")
        assert "extra" not in s.containers()


def test_delete_then_download_removes_the_old_image_before_pulling():
    aid = app_id()
    with State(aid) as s:
        eng = s.eng
        for img in (eng.image, eng.image_v2):
            eng.docker("rmi", "-f", img, check=False)
        eng.docker("pull", eng.image_v2)
        try:
            lbl = {"io.balena.update.strategy": "delete-then-download"}
            s.apply(target(aid, "c1", 1, [service(1, "one", eng.image_v2, 11, labels=lbl)]), 120)
            old_id = json.loads(eng.docker("image", "inspect", eng.image_v2))[0]["Id"]
            t0 = time.time()
            s.apply(target(aid, "c2", 2, [service(1, "one", eng.image, 21, labels=lbl)]), 120)
            order = []
            for e in events_since(eng, t0):
                a = e["Actor"]["Attributes"]
                if e.get("Type") == "container" and a.get("io.balena.app-id") == aid and \
                        e["Action"] in ("destroy", "start"):
                    order.append(e["Action"])
                elif e.get("Type") == "image" and e["Action"] in ("delete", "untag") and \
                        e["Actor"]["ID"] == old_id:
                    order.append("delete-old")
                elif e.get("Type") == "image" and e["Action"] == "pull" and \
                        e["Actor"]["ID"] == eng.image:
                    order.append("pull")
            assert "delete-old" in order, order
            assert order.index("destroy") < order.index("delete-old") < order.index("pull") \
                < order.index("start"), order
        finally:
            for img in (eng.image, eng.image_v2):
                eng.docker("rmi", "-f", img, check=False)

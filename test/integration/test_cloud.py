"""test_cloud.py - cloudsyncd against the fake balena cloud over HTTPS (issue 6):
provisioning (201 and 409), target polling with ETags, state reports."""
import json
import os
import sqlite3
import stat
import time

import lib
from engine import engine
from fake_cloud import DEVICE_ID, PROVISIONING_KEY, FakeCloud

WAIT = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def managed_config(cloud, port_holder=None):
    return {"apiEndpoint": cloud.url, "apiKey": PROVISIONING_KEY, "applicationId": 1234,
            "deviceType": "generic-amd64", "appUpdatePollInterval": 500,
            "bootstrapRetryDelay": 1000, "balenaRootCA": cloud.ca_b64}


class Managed(lib.Agentd):
    """agentd managed by the fake cloud; `extra` overrides config.json keys
    (a value of None removes the key)."""
    def __init__(self, cloud, eng=None, extra=None):
        self.cloud = cloud
        self.extra = extra or {}
        super().__init__(args=(["-s", eng.sock] if eng else []))

    def start(self):
        port = lib.free_port()
        self.config = dict(managed_config(self.cloud), listenPort=port, **self.extra)
        self.config = {k: v for k, v in self.config.items() if v is not None}
        super().start()
        self.port = port
        return self


def remove_app(eng, app_id, app_uuid):
    """Remove what a test's app left in the engine: containers, default network."""
    ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=%d" % app_id,
                     check=False).split()
    if ids:
        eng.docker("rm", "-f", *ids, check=False)
    eng.docker("network", "rm", "%s_default" % app_uuid, check=False)


def read_config(ad):
    with open(ad.config_path) as f:
        return json.load(f)


def test_fresh_device_provisions_and_config_json_is_updated():
    with FakeCloud() as cloud, Managed(cloud) as ad:
        lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
        cfg = read_config(ad)
        assert cfg["deviceId"] == DEVICE_ID
        assert "apiKey" not in cfg, "the provisioning key must be removed"
        assert len(cfg["uuid"]) == 32 and len(cfg["deviceApiKey"]) == 32
        assert stat.S_IMODE(os.stat(ad.config_path).st_mode) == 0o600
        reg = cloud.find("POST", "/device/register")[0]
        assert reg[3]["api_key"] == cfg["deviceApiKey"]
        assert reg[3]["uuid"] == cfg["uuid"] and reg[3]["application"] == 1234
        assert reg[2]["Authorization"] == "Bearer " + PROVISIONING_KEY
        assert cloud.errors == [], cloud.errors


def test_uuid_conflict_goes_through_the_key_exchange():
    with FakeCloud(conflict=True) as cloud, Managed(cloud) as ad:
        lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
        assert cloud.find("POST", "/api-key/device/%d/device-key" % DEVICE_ID)
        assert read_config(ad)["deviceId"] == DEVICE_ID
        assert cloud.errors == [], cloud.errors


def v3_target(uuid, app_uuid, app_id, commit, image, env=None):
    return {uuid: {"name": "cloudy", "config": {"RESIN_SUPERVISOR_POLL_INTERVAL": "500",
                                                "RESIN_SUPERVISOR_API_REQUEST_TIMEOUT": "1500"},
                   "apps": {app_uuid: {"id": app_id, "name": "cloudapp", "releases": {commit: {
                       "id": 7, "services": {"main": {
                           "id": 1, "image_id": 11, "image": image,
                           "environment": env or {}, "labels": {},
                           "composition": {"command": ["sh", "-c", WAIT],
                                           "network_mode": "none"}}},
                       "volumes": {}, "networks": {}}}}}}}


def test_target_from_the_cloud_is_applied_and_reported():
    eng = engine()
    app_id = 880000 + os.getpid() % 1000
    app_uuid = "cafe%028x" % app_id
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            cloud.target = v3_target(uuid, app_uuid, app_id, "c0ffee", eng.local_image)

            def running():
                out = eng.docker("ps", "--filter", "label=io.balena.app-id=%d" % app_id,
                                 "--format", "{{.Names}}")
                return out == "main_11_7_c0ffee"
            lib.wait_until(running, 60, what="the cloud's service running")

            def reported_done():
                for r in cloud.find("PATCH", "/device/v3/state"):
                    app = r[3].get(uuid, {}).get("apps", {}).get(app_uuid)
                    if app and app["releases"]["c0ffee"]["update_status"] == "done" and \
                            app["releases"]["c0ffee"]["services"]["main"]["status"] == "Running":
                        return True
                return False
            lib.wait_until(reported_done, 40, what="a report with the service Running")
            # ETags: later polls are answered 304 and change nothing
            polls = len(cloud.find("GET", "/device/v3/"))
            lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) >= polls + 2, 20,
                           what="more polls")
            last = cloud.find("GET", "/device/v3/")[-1]
            assert last[2].get("If-None-Match"), "polls must send the last ETag"
            assert cloud.errors == [], cloud.errors
        finally:
            remove_app(eng, app_id, app_uuid)


def test_target_without_this_device_is_rejected_and_nothing_changes():
    eng = engine()
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
        cloud.target = v3_target("someone-else", "abad1dea" * 4, 1, "c1", eng.local_image)
        ad.wait_log(r"Could not move to new release: Expected target state for local device "
                    r"with uuid", 20)
        st, body = ad.http("GET", "/v2/local/target-state",
                           headers={"Authorization": "Bearer " + ad.global_key()})
        assert st == 200 and json.loads(body)["state"]["local"]["apps"] == {}


def test_container_output_and_system_messages_reach_the_log_stream():
    eng = engine()
    app_id = 870000 + os.getpid() % 1000
    app_uuid = "beef%028x" % app_id
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            t = v3_target(uuid, app_uuid, app_id, "c0ffee", eng.local_image)
            comp = t[uuid]["apps"][app_uuid]["releases"]["c0ffee"]["services"]["main"]
            comp["composition"]["tty"] = False
            comp["composition"]["command"] = [
                "sh", "-c", "echo to-the-cloud; sleep 0.2; echo err-to-the-cloud >&2; " + WAIT]
            cloud.target = t

            def got(pred):
                with cloud.lock:
                    return [l for l in cloud.logs if pred(l)]
            lib.wait_until(lambda: got(lambda l: l.get("message") == "to-the-cloud"), 60,
                           what="the container's stdout line in the cloud")
            lib.wait_until(lambda: got(lambda l: l.get("message") == "err-to-the-cloud"), 20,
                           what="the container's stderr line in the cloud")
            out = got(lambda l: l.get("message") == "to-the-cloud")[0]
            err = got(lambda l: l.get("message") == "err-to-the-cloud")[0]
            assert out["serviceId"] == 1 and "isStdErr" not in out, out
            assert err.get("isStdErr") is True, err
            assert got(lambda l: l.get("isSystem") and "Started service" in l["message"])
            assert cloud.errors == [], cloud.errors
        finally:
            remove_app(eng, app_id, app_uuid)


def fault_then_recover(fault, expect_log):
    """The cloud misbehaves while offering a new release: the device stays on
    its release, says why, keeps trying (backs off), and moves on once the
    cloud is well again."""
    eng = engine()
    app_id = 860000 + os.getpid() % 1000 + len(fault)
    app_uuid = "f00d%028x" % app_id
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            cloud.target = v3_target(uuid, app_uuid, app_id, "c1", eng.local_image)

            def names():
                return eng.docker("ps", "-a", "--filter", "label=io.balena.app-id=%d" % app_id,
                                  "--format", "{{.Names}}").split()
            lib.wait_until(lambda: names() == ["main_11_7_c1"], 60, what="release c1 running")
            mark = ad.mark()
            cloud.fault = fault
            cloud.target = v3_target(uuid, app_uuid, app_id, "c2", eng.local_image)
            polls = len(cloud.find("GET", "/device/v3/"))
            ad.wait_log(expect_log, 30, since=mark)
            lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) >= polls + 2, 30,
                           what="the device to keep polling")
            assert names() == ["main_11_7_c1"], names()  # still on its release
            cloud.fault = None
            lib.wait_until(lambda: names() == ["main_11_7_c2"], 60,
                           what="release c2 once the cloud recovers")
        finally:
            remove_app(eng, app_id, app_uuid)


def test_cloud_500s_leave_the_release_running_and_are_retried():
    # the API's own words come with the status (issue 15)
    fault_then_recover("500", r"target state poll failed: HTTP 500: \{\"message\": \"injected\"\}; "
                              r"retrying in")


def test_connection_reset_leaves_the_release_running_and_is_retried():
    fault_then_recover("reset", r"target state poll failed: .*; retrying in")


def test_truncated_target_leaves_the_release_running_and_is_retried():
    fault_then_recover("truncated", r"target state poll failed: .*; retrying in")


def test_invalid_json_target_is_refused_and_the_release_keeps_running():
    fault_then_recover("invalid_json", r"Could not move to new release: the target state is "
                                       r"not a JSON object")


def test_device_tags_are_validated_sent_once_and_read_back():
    with FakeCloud() as cloud, Managed(cloud) as ad:
        lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
        lib.wait_until(lambda: ad.global_key(), 10, what="the global API key")
        auth = {"Authorization": "Bearer " + ad.global_key(),
                "Content-Type": "application/json"}
        st, body = ad.http("PATCH", "/v2/device/tags", json.dumps({"a b": "x"}), auth)
        assert st == 400 and json.loads(body)["message"] == "Tag keys cannot contain whitespace"
        st, body = ad.http("PATCH", "/v2/device/tags", json.dumps({"k": 1}), auth)
        assert st == 400, (st, body)
        st, body = ad.http("PATCH", "/v2/device/tags", json.dumps({"k": "v"}), auth)
        assert (st, json.loads(body)) == (202, {"status": "success"}), (st, body)
        lib.wait_until(lambda: cloud.find("PATCH", "/device/v3/tags"), 20, what="tags sent")
        sent = cloud.find("PATCH", "/device/v3/tags")[0][3]
        assert sent == {read_config(ad)["uuid"]: {"k": "v"}}, sent
        st, _ = ad.http("PATCH", "/v2/device/tags", json.dumps({"k": "v"}), auth)
        assert st == 202
        st, body = ad.http("GET", "/v2/device/tags", headers=auth)
        assert st == 200, body
        assert json.loads(body) == {"status": "success",
                                    "tags": [{"id": 1, "name": "k", "value": "v"}]}
        assert len(cloud.find("PATCH", "/device/v3/tags")) == 1, "unchanged tags were re-sent"
        assert cloud.errors == [], cloud.errors


def test_reports_are_throttled_to_one_per_ten_seconds():
    eng = engine()
    app_id = 850000 + os.getpid() % 1000
    app_uuid = "abba%028x" % app_id
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            cloud.target = v3_target(uuid, app_uuid, app_id, "c1", eng.local_image)
            lib.wait_until(lambda: any(app_uuid in (r[3].get(uuid, {}).get("apps") or {})
                                       for r in cloud.find("PATCH", "/device/v3/state")),
                           60, what="a first report with the app")
            first = len(cloud.find("PATCH", "/device/v3/state"))
            auth = {"Authorization": "Bearer " + ad.global_key(),
                    "Content-Type": "application/json"}
            # a change right after the last report: it must wait its turn
            st, body = ad.http("POST", "/v2/applications/%d/stop-service" % app_id,
                               json.dumps({"serviceName": "main"}), auth)
            assert st == 200, (st, body)

            def reported_stopped():
                for r in cloud.find("PATCH", "/device/v3/state")[first:]:
                    app = (r[3][uuid].get("apps") or {}).get(app_uuid)
                    if app and app["releases"]["c1"]["services"]["main"]["status"] == "exited":
                        return True
                return False
            lib.wait_until(reported_stopped, 40, what="a report of the stopped service")
            times = [r[4] for r in cloud.find("PATCH", "/device/v3/state")]
            gaps = [b - a for a, b in zip(times, times[1:])]
            assert all(g >= 9.5 for g in gaps), "reports closer than 10 s apart: %s" % gaps
            # a report carries only what changed: no unchanged device fields again
            later = cloud.find("PATCH", "/device/v3/state")[-1][3][uuid]
            assert "os_version" not in later and "api_port" not in later, later
        finally:
            remove_app(eng, app_id, app_uuid)


def test_images_pulled_for_a_release_are_removed_once_unused():
    eng = engine()
    app_id = 840000 + os.getpid() % 1000
    app_uuid = "d00d%028x" % app_id
    for img in (eng.image, eng.image_v2):
        eng.docker("rmi", "-f", img, check=False)
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            cloud.target = v3_target(uuid, app_uuid, app_id, "c1", eng.image)

            def running(name):
                return eng.docker("ps", "--filter", "label=io.balena.app-id=%d" % app_id,
                                  "--format", "{{.Names}}") == name
            lib.wait_until(lambda: running("main_11_7_c1"), 90, what="release c1 (pulled)")
            t2 = v3_target(uuid, app_uuid, app_id, "c2", eng.image_v2)
            t2[uuid]["apps"][app_uuid]["releases"]["c2"]["services"]["main"]["image_id"] = 12
            cloud.target = t2
            lib.wait_until(lambda: running("main_12_7_c2"), 90, what="release c2 (pulled)")

            def gone():
                return eng.docker("image", "inspect", eng.image, check=False) in ("", "[]")
            lib.wait_until(gone, 30, what="the first release's image removed")
            assert json.loads(eng.docker("image", "inspect", eng.image_v2, check=False) or "[]"), \
                "the image in use must stay"
        finally:
            remove_app(eng, app_id, app_uuid)
            for img in (eng.image, eng.image_v2):
                eng.docker("rmi", "-f", img, check=False)


def test_a_restart_does_not_resend_what_the_cloud_has():
    eng = engine()
    with FakeCloud() as cloud:
        first = Managed(cloud, eng).__enter__()
        try:
            lib.wait_until(lambda: cloud.find("PATCH", "/device/v3/state"), 30,
                           what="a first report")
            cache = os.path.join(first.rundir, "state-report-cache")
            lib.wait_until(lambda: os.path.exists(cache), 10, what="the report cache")
            n = len(cloud.find("PATCH", "/device/v3/state"))
            first.stop()
            # the same device, the same run dir: agentd starts again
            again = lib.Agentd(args=["-s", eng.sock], workdir=first.dir,
                               config=read_config(first)).__enter__()
            try:
                again.wait_log(r"apply: target state applied", 20)
                polls = len(cloud.find("GET", "/device/v3/"))
                # by then cloudsyncd has handled the report agentd sent after applying
                lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) >= polls + 2, 20,
                               what="the restarted device polling")
                for r in cloud.find("PATCH", "/device/v3/state")[n:]:
                    body = r[3][read_config(again)["uuid"]]
                    assert "os_version" not in body and "api_port" not in body, body
            finally:
                again.__exit__(None, None, None)
        finally:
            first.__exit__(None, None, None)


def test_a_cloud_that_does_not_answer_in_time_is_given_up_and_retried():
    fault_then_recover("slow", r"target state poll failed: .*[Tt]imed? ?out.*; retrying in")


def test_a_slow_drip_response_is_given_up_and_retried():
    fault_then_recover("drip", r"target state poll failed: .*[Tt]imed? ?out.*; retrying in")



def test_post_v1_update_polls_the_cloud_at_once():
    from test_api_routes import global_key
    with FakeCloud() as cloud, Managed(cloud, extra={"appUpdatePollInterval": 3600000}) as ad:
        lib.wait_until(lambda: cloud.find("GET", "/device/v3/"), 20, what="the first poll")
        key = ad.global_key()
        polls = len(cloud.find("GET", "/device/v3/"))
        st, text = ad.http("POST", "/v1/update?apikey=" + key, b"")
        assert (st, text) == (204, ""), (st, text)
        lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) > polls, 10,
                       what="a poll right after POST /v1/update")
        assert cloud.errors == [], cloud.errors


def test_a_certificate_the_device_does_not_trust_is_a_clear_log_line():
    with FakeCloud() as cloud, Managed(cloud, extra={"balenaRootCA": None}) as ad:
        ad.wait_log(r"provisioning failed: .*(certificate|issuer).*; retrying in", 20)
        assert "registered_at" not in read_config(ad)
        assert cloud.find("POST", "/device/register") == []


def test_scoped_service_key_reaches_its_own_app_only():
    """A service labelled io.balena.features.supervisor-api gets a key scoped
    to its app (facts §1.2): app-targeted routes of another app answer 401,
    listings show its app only, and device-wide routes take it."""
    eng = engine()
    base = 881000 + os.getpid() % 1000
    mine, other = base, base + 1
    uuids = {mine: "cafe%028x" % mine, other: "cafe%028x" % other}
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            t = v3_target(uuid, uuids[mine], mine, "c0ffee", eng.local_image)
            t[uuid]["apps"][uuids[mine]]["releases"]["c0ffee"]["services"]["main"]["labels"] = \
                {"io.balena.features.supervisor-api": "1"}
            o = v3_target(uuid, uuids[other], other, "beef", eng.local_image)
            o[uuid]["apps"][uuids[other]]["name"] = "otherapp"
            t[uuid]["apps"].update(o[uuid]["apps"])
            cloud.target = t

            def container(app):
                ids = eng.docker("ps", "-q", "--filter", "label=io.balena.app-id=%d" % app,
                                 check=False).split()
                return ids[0] if len(ids) == 1 else None
            lib.wait_until(lambda: container(mine) and container(other), 60,
                           what="both apps running")
            env = dict(e.split("=", 1) for e in json.loads(
                eng.docker("inspect", container(mine)))[0]["Config"]["Env"])
            key = env["BALENA_SUPERVISOR_API_KEY"]
            assert env["RESIN_SUPERVISOR_API_KEY"] == key and len(key) == 32, env
            assert "BALENA_SUPERVISOR_API_KEY" not in json.dumps(json.loads(
                eng.docker("inspect", container(other)))[0]["Config"]["Env"])
            auth = {"Authorization": "Bearer " + key}

            def call(method, path, body=None):
                h = dict(auth)
                if body is not None:
                    h["Content-Type"] = "application/json"
                return ad.http(method, path, json.dumps(body) if body is not None else None, h)

            # another app's routes: refused as balena refuses them
            for method, path, body in (
                    ("GET", "/v1/apps/%d" % other, None),
                    ("POST", "/v1/restart", {"appId": other}),
                    ("POST", "/v2/applications/%d/restart-service" % other,
                     {"serviceName": "main"}),
                    ("POST", "/v2/applications/%d/purge" % other, {})):
                st, text = call(method, path, body)
                # facts §1.3: /v1/apps/:appId says the app "is not available"
                want = "Application is not available" if path.startswith("/v1/apps/") \
                    else "Unauthorized"
                assert st == 401 and json.loads(text) == {"status": "failed",
                                                          "message": want}, \
                    (method, path, st, text)
            assert container(other), "the other app's container was touched"
            # listings are filtered to its app
            st, text = call("GET", "/v2/applications/state")
            assert st == 200 and set(json.loads(text)) == {"cloudapp"}, text
            st, text = call("GET", "/v2/state/status")
            assert st == 200, text
            assert {c["appId"] for c in json.loads(text)["containers"]} == {mine}, text
            st, text = call("GET", "/v2/containerId")
            services = json.loads(text)["services"]
            assert st == 200 and list(services) == ["main"] and \
                services["main"].startswith(container(mine)), text
            # its own app, and device-wide routes, are fine
            st, text = call("GET", "/v1/apps/%d" % mine)
            assert st == 200 and json.loads(text)["appId"] == mine, (st, text)
            for method, path in (("GET", "/v2/version"), ("GET", "/v1/device"),
                                 ("GET", "/v2/device/name")):
                st, text = call(method, path)
                assert st == 200, (path, st, text)
            # a wrong key of the same shape is still 401
            st, _ = ad.http("GET", "/v2/version", None, {"Authorization": "Bearer " + key[::-1]})
            assert st == 401
            assert cloud.errors == [], cloud.errors
        finally:
            for app in (mine, other):
                remove_app(eng, app, uuids[app])


def db_config(ad, key):
    """A value of agentd's database config table, or None."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(ad.datadir, "agentd.sqlite"),
                         uri=True, timeout=1)
    try:
        row = db.execute("SELECT value FROM config WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:
        row = None
    finally:
        db.close()
    return row[0] if row else None


def test_initial_config_and_name_are_reported_once_per_api_endpoint():
    with FakeCloud() as cloud, lib.TempDir() as work:
        extra = {"initialDeviceName": "shiny-pi", "persistentLogging": True}
        ad = Managed(cloud, extra=extra)
        ad.workdir = work
        with ad:
            lib.wait_until(lambda: db_config(ad, "initialConfigReported") == cloud.url, 30,
                           what="the initial config recorded as reported")
            # config.json's poll interval (500 ms) and persistent logging differ from the
            # defaults; the local-mode and VPN defaults are not sent
            assert cloud.config_vars == {"RESIN_SUPERVISOR_POLL_INTERVAL": "500",
                                         "RESIN_SUPERVISOR_PERSISTENT_LOGGING": "true"}, \
                cloud.config_vars
            assert cloud.device_name == "shiny-pi"
            n = len(cloud.requests)
            cfg = read_config(ad)
            cfg.pop("listenPort")
        # a restart with the same endpoint (and database) does not report again
        again = Managed(cloud, extra=dict(cfg))
        again.workdir = work
        with again:
            polls = len(cloud.find("GET", "/device/v3/"))
            lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) >= polls + 2, 20,
                           what="polls after the restart")
        assert not [r for r in cloud.requests[n:]
                    if r[0] in ("POST", "PATCH") and r[1].startswith("/v7/device")], \
            "reported again after a restart"
        assert cloud.errors == [], cloud.errors


def test_preloaded_device_with_pin_device_pins_itself_to_the_preloaded_release():
    with FakeCloud() as cloud, lib.TempDir() as work:
        cloud.releases[(1234, "deadbeef")] = 77
        os.makedirs(os.path.join(work, "data"))
        with open(os.path.join(work, "data", "apps.json"), "w") as f:
            json.dump({"pinDevice": True, "apps": {"cafe0001": {
                "id": 1234, "name": "preloaded", "releases": {"deadbeef": {
                    "id": 77, "services": {}, "volumes": {}, "networks": {}}}}}}, f)
        ad = Managed(cloud)
        ad.workdir = work
        with ad:
            lib.wait_until(lambda: cloud.pinned == 77, 30, what="the pin")
            ad.wait_log(r"the preloaded release is pinned", 10)
            lookups = len(cloud.find("GET", "/v7/release?"))
        # done once: another start does not pin again
        cfg = read_config(ad)
        cfg.pop("listenPort")
        again = Managed(cloud, extra=cfg)
        again.workdir = work
        with again:
            polls = len(cloud.find("GET", "/device/v3/"))
            lib.wait_until(lambda: len(cloud.find("GET", "/device/v3/")) >= polls + 2, 20,
                           what="polls after the restart")
        assert len(cloud.find("GET", "/v7/release?")) == lookups
        assert cloud.errors == [], cloud.errors


def test_an_app_without_a_release_is_left_out_of_the_report():
    """The real API answers 401 to a report naming a release "" (issue 15)."""
    eng = engine()
    app_id = 881000 + os.getpid() % 1000
    app_uuid = "cafe%028x" % app_id
    empty_uuid = "beef%028x" % app_id
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            t = v3_target(uuid, app_uuid, app_id, "c0ffee", eng.local_image)
            t[uuid]["apps"][empty_uuid] = {"id": app_id + 1, "name": "norelease",
                                           "releases": {}}
            cloud.target = t

            def reported():
                for r in cloud.find("PATCH", "/device/v3/state"):
                    app = r[3].get(uuid, {}).get("apps", {}).get(app_uuid)
                    if app and app.get("release_uuid") == "c0ffee" and \
                            app["releases"]["c0ffee"]["services"]["main"]["status"] == "Running":
                        return r[3][uuid]["apps"]
                return None
            apps = lib.wait_until(reported, 60, what="a report of the running release")
            assert empty_uuid not in apps, apps
            for r in cloud.find("PATCH", "/device/v3/state"):
                assert empty_uuid not in r[3].get(uuid, {}).get("apps", {}), r[3]
            assert cloud.errors == [], cloud.errors
        finally:
            remove_app(eng, app_id, app_uuid)


def test_a_refused_registration_logs_the_apis_reason_without_secrets():
    key = "0123456789abcdef0123456789abcdef"
    with FakeCloud() as cloud:
        cloud.register_refusal = (
            403, "Device has OS version  but needs to satisfy version range: >=2.11.0 "
                 "(key %s)\nsecond line of the body" % key)
        with Managed(cloud, extra={"deviceApiKey": key}) as ad:
            ad.wait_log(r"provisioning failed: HTTP 403: Device has OS version  but needs to "
                        r"satisfy version range: >=2\.11\.0 \(key <redacted>\); retrying in", 20)
            assert key not in ad.log(), "a key reached the log"
            assert "second line" not in ad.log()


SUPERVISOR_APP_AMD64 = "52e35121417640b1b28a680504e4039b"


def test_the_supervisor_release_is_agentd_itself():
    """balena's supervisor release (core, core-next, service-relay) is never run;
    each service is reported Running, and a core-next the Node supervisor had
    made is removed (issue 11)."""
    eng = engine()
    app_id = 882000 + os.getpid() % 1000
    app_uuid = "cafe%028x" % app_id
    sup_id = 883000 + os.getpid() % 1000
    leftover = "core-next_91_92_0ld"
    eng.docker("create", "--name", leftover, "--label", "io.balena.supervised=true",
               "--label", "io.balena.app-id=%d" % sup_id, "--label",
               "io.balena.app-uuid=" + SUPERVISOR_APP_AMD64, "--label",
               "io.balena.service-id=5", "--label", "io.balena.service-name=core-next",
               eng.local_image, "sh", "-c", WAIT)
    with FakeCloud() as cloud, Managed(cloud, eng) as ad:
        try:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            uuid = read_config(ad)["uuid"]
            t = v3_target(uuid, app_uuid, app_id, "c0ffee", eng.local_image)
            sup_services = {}
            for i, name in enumerate(("core", "core-next", "service-relay")):
                sup_services[name] = {"id": 90 + i, "image_id": 95 + i,
                                      "image": "registry2.example/supervisor-%s@sha256:%s"
                                      % (name, "ab" * 32),
                                      "environment": {}, "labels": {}}
            t[uuid]["apps"][SUPERVISOR_APP_AMD64] = {
                "id": sup_id, "name": "amd64-supervisor", "class": "app", "releases": {
                    "5up": {"id": 93, "services": sup_services}}}
            cloud.target = t

            def reported():
                for r in cloud.find("PATCH", "/device/v3/state"):
                    apps = r[3].get(uuid, {}).get("apps", {})
                    sup = apps.get(SUPERVISOR_APP_AMD64)
                    mine = apps.get(app_uuid)
                    if sup and mine and \
                            mine["releases"]["c0ffee"]["services"]["main"]["status"] == \
                            "Running":
                        return sup
                return None
            sup = lib.wait_until(reported, 60, what="a report with both apps")
            assert {k: v["status"] for k, v in sup["releases"]["5up"]["services"].items()} == \
                {"core": "Running", "core-next": "Running", "service-relay": "Running"}, sup
            lib.wait_until(lambda: eng.docker("ps", "-aq", "--filter",
                                              "name=^/%s$" % leftover) == "", 30,
                           what="the leftover core-next removed")
            assert eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=%d" % sup_id) \
                == "", "a service of the supervisor release was made"
            assert "supervisor-core" not in ad.log(), "something of it was pulled"
            assert cloud.errors == [], cloud.errors
        finally:
            remove_app(eng, app_id, app_uuid)
            eng.docker("rm", "-f", leftover, check=False)


def test_node_extra_ca_certs_is_trusted_as_well():
    """The balenaOS start script names a CA bundle in NODE_EXTRA_CA_CERTS."""
    with FakeCloud() as cloud:
        ad = Managed(cloud, extra={"balenaRootCA": None})
        ad.extra_env["NODE_EXTRA_CA_CERTS"] = os.path.join(cloud.dir, "ca.pem")
        with ad:
            lib.wait_until(lambda: "registered_at" in read_config(ad), 20, what="provisioning")
            ad.wait_log(r"trusting the certificates of .*ca\.pem too")
            assert cloud.errors == [], cloud.errors

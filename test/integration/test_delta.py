"""test_delta.py - delta updates (issue 14) against the stand-in delta
server (fake_cloud.py: /auth/v1/token and /api/v3/delta) and the local
registry.

The engine here is Debian's docker.io, not balenaEngine: the "delta" the
stand-in names is a whole image in the registry (the new release's image
pushed under a delta tag), which proves agentd's side of the protocol:
the registry token, the delta request and every answer to it, the pull of
the delta with the token, the image it makes taken as the target image,
and each fallback. agentd is the test build with AGENTD_TEST_DELTAS=1,
which lets it treat this engine as one that applies deltas.
"""
import json
import re
import secrets

import lib
from engine import engine
from fake_cloud import FakeCloud, PROVISIONING_KEY

WAIT = "trap 'exit 0' TERM; while :; do sleep 0.1; done"


def image_id(eng, ref):
    return eng.docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)


class Device:
    """A managed agentd that may use deltas, its app, and cleanup."""

    def __init__(self, delta_config=None, images=None):
        self.eng = engine()
        # release 1's and release 2's images (the bench pulls them through
        # a registry of its own)
        self.img1, self.img2 = images or (self.eng.image, self.eng.image_v2)
        self.app_id = 860000 + secrets.randbelow(90000)
        self.app_uuid = "de17a%027x" % self.app_id
        self.delta_config = {"SUPERVISOR_DELTA": "1", "SUPERVISOR_DELTA_VERSION": "3"}
        self.delta_config.update(delta_config or {})
        self.delta_tags = []

    def __enter__(self):
        self.had_image = image_id(self.eng, self.img1) != ""
        self.cloud = FakeCloud().__enter__()
        port = lib.free_port()
        cfg = {"apiEndpoint": self.cloud.url, "deltaEndpoint": self.cloud.url,
               "apiKey": PROVISIONING_KEY, "applicationId": 1234,
               "deviceType": "generic-amd64", "appUpdatePollInterval": 500,
               "bootstrapRetryDelay": 1000, "balenaRootCA": self.cloud.ca_b64,
               "listenPort": port}
        try:
            self.ad = lib.Agentd(test_build=True, args=["-s", self.eng.sock], config=cfg,
                                 env={"AGENTD_TEST_DELTAS": "1"}).__enter__()
            self.ad.port = port
            lib.wait_until(lambda: getattr(self.cloud, "uuid", None) is not None and
                           self.cloud.find("PATCH", "/device/v3/state"), 60,
                           what="provisioning and a first report")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            if hasattr(self, "ad"):
                self.ad.__exit__(*exc)
        finally:
            ids = self.eng.docker("ps", "-aq", "--filter",
                                  "label=io.balena.app-id=%d" % self.app_id, check=False).split()
            if ids:
                self.eng.docker("rm", "-f", *ids, check=False)
            self.eng.docker("network", "rm", self.app_uuid + "_default", check=False)
            for ref in [self.img2, *self.delta_tags]:
                self.eng.docker("rmi", ref, check=False)
            if not self.had_image:
                self.eng.docker("rmi", self.img1, check=False)
            self.cloud.__exit__(None, None, None)
        return False

    def delta_image(self, registry=None):
        """The release-2 image pushed to the registry under a delta tag (the
        stand-in's delta), and gone from the engine again; named through
        `registry` (another server of the same storage) if given."""
        tag = "agentd-test/busybox:delta-%s" % secrets.token_hex(4)
        name = "%s/%s" % (self.eng.registry, tag)
        self.eng.docker("pull", self.eng.image_v2)
        self.eng.docker("tag", self.eng.image_v2, name)
        self.eng.docker("push", name)
        self.eng.docker("rmi", name, self.eng.image_v2)
        return "%s/%s" % (registry, tag) if registry else name

    def target(self, commit, release, image, extra=None):
        config = {"SUPERVISOR_POLL_INTERVAL": "500"}
        config.update(self.delta_config)
        config.update(extra or {})
        return {self.cloud.uuid: {"name": "delta", "config": config, "apps": {self.app_uuid: {
            "id": self.app_id, "name": "deltaapp", "releases": {commit: {
                "id": release, "services": {"main": {
                    "id": 1, "image_id": release * 10, "image": image, "environment": {},
                    "labels": {}, "composition": {"command": ["sh", "-c", WAIT],
                                                  "network_mode": "none"}}},
                "volumes": {}, "networks": {}}}}}}}

    def running(self, name):
        def check():
            out = self.eng.docker("ps", "--filter", "label=io.balena.app-id=%d" % self.app_id,
                                  "--format", "{{.Names}} {{.Image}}")
            lines = out.splitlines()
            return lines[0].split() if len(lines) == 1 and lines[0].startswith(name) else None
        return check

    def release1(self):
        """Release 1 on the test image, pulled whole (nothing to make a delta from)."""
        self.cloud.target = self.target("c1", 1, self.img1)
        lib.wait_until(self.running("main_10_1_c1"), 60, what="release 1 running")
        if self.delta_config == {"SUPERVISOR_DELTA": "1", "SUPERVISOR_DELTA_VERSION": "3"}:
            assert "No image on the device to make a delta from: downloading image '%s' " \
                "whole" % self.img1 in self.ad.log(), self.ad.log_tail(20)
        assert self.cloud.deltas_asked == []

    def release2(self, timeout=60):
        """Release 2; while it downloads, whether the local API shows its
        image Downloading (seen_downloading)."""
        mark = self.ad.mark()
        self.seen_downloading = False
        self.not_shown = []  # polls while the server made the delta that showed no download
        self.cloud.target = self.target("c2", 2, self.img2)
        lib.wait_until(lambda: self.watch_download() or self.running("main_20_2_c2")(),
                       timeout, interval=0.2, what="release 2 running; log: ...")
        return mark

    def watch_download(self):
        """Whether /v2/applications/state, /v2/applications/<id>/state and
        /v2/state/status all show release 2's image downloading now."""
        auth = {"Authorization": "Bearer " + self.ad.global_key()}
        asks_before = len(self.cloud.deltas_asked)
        got = []
        for path in ("/v2/applications/state", "/v2/applications/%d/state" % self.app_id,
                     "/v2/state/status"):
            st, text = self.ad.http("GET", path, headers=auth)
            assert st == 200, (path, st, text)
            got.append(json.loads(text))
        svc = got[0]["deltaapp"]["services"]["main"]
        by_id = got[1]["local"][str(self.app_id)]["services"].get("20")
        images = [i for i in got[2]["images"] if i["name"] == self.img2]
        # each answer on its own terms (the download may end between them)
        if svc["status"] == "Downloading":
            assert 0 <= svc["downloadProgress"] <= 100, svc
            assert (got[0]["deltaapp"]["updateStatus"] == "downloading") == \
                (svc["downloadProgress"] != 100), got[0]
        if by_id is not None and by_id["status"] == "Downloading":
            assert 0 <= by_id["download_progress"] <= 100, by_id
        if images:
            assert images[0]["status"] == "Downloading", images
        shown = got[0]["deltaapp"]["commit"] == "c2" and svc["status"] == "Downloading" and \
            by_id is not None and by_id["status"] == "Downloading" and len(images) == 1
        self.seen_downloading |= shown
        # the whole time the server is making the delta (asked, not yet
        # answered with its name), the download shows
        making = getattr(self, "making", None)
        if making and asks_before >= 1 and len(self.cloud.deltas_asked) <= making and not shown:
            self.not_shown.append((asks_before, svc, by_id, images))
        return False


def test_a_delta_update_replaces_the_service_and_waits_while_the_delta_is_made():
    with Device() as d:
        d.release1()
        src_id = image_id(d.eng, d.eng.image)
        delta = d.delta_image()
        d.delta_tags.append(delta)
        # made for a while (2 s between asks): long enough for a report
        # (one per 10 s at most) to show the download
        making = 7
        d.cloud.delta_answers = [(504, {"message": "processing"})] * (making - 1) + \
            [(502, "Bad Gateway"), (200, {"name": delta})]
        d.making = making
        mark = d.release2(timeout=90)
        log = d.ad.log()[mark:]
        assert "Downloading delta for image '%s'" % d.eng.image_v2 in log, log
        assert "Downloading image '%s'" % d.eng.image_v2 not in log, log  # no whole pull
        assert "still being made" in log, log
        assert "Failed to download" not in log, log  # 502/504 are not failures
        # the stand-in was asked until it answered, from the image release 1 runs
        assert d.cloud.deltas_asked == [(d.eng.image, d.eng.image_v2)] * (making + 1), \
            d.cloud.deltas_asked
        # the download showed as a full pull's does: in the API while it went
        # on (seen below) and in a report to the cloud
        assert d.seen_downloading, "the API never showed the delta's download"
        assert d.not_shown == [], d.not_shown[:3]
        def reported():
            shown = [r for r in d.cloud.find("PATCH", "/device/v3/state") if
                     (((r[3] or {}).get(d.cloud.uuid) or {}).get("apps") or {}).get(d.app_uuid)]
            releases = [r[3][d.cloud.uuid]["apps"][d.app_uuid]["releases"] for r in shown]
            return [rel["c2"] for rel in releases if "c2" in rel]
        assert any(rel["update_status"] == "downloading" and
                   rel["services"]["main"]["status"] == "Downloading" and
                   rel["services"]["main"]["image"] == d.eng.image_v2 and
                   0 <= rel["services"]["main"]["download_progress"] < 100
                   for rel in reported()), reported()
        # and then the service running, without a progress (reports: one per 10 s)
        lib.wait_until(lambda: reported()[-1]["services"]["main"]["status"] == "Running", 30,
                       what="a report of release 2 running")
        assert "download_progress" not in reported()[-1]["services"]["main"], reported()[-1]
        # one registry token, for both repositories, kept for the later asks
        tokens = d.cloud.find("GET", "/auth/v1/token?")
        assert len(tokens) == 1, tokens
        host, _, repo = d.eng.image.partition("/")
        assert "service=%s&" % host in tokens[0][1], tokens[0][1]
        assert "scope=repository:%s:pull" % repo.rsplit(":", 1)[0] in tokens[0][1]
        # the delta's image is the new release's image; its own tag is not pulled
        cid = d.eng.docker("ps", "-q", "--filter", "label=io.balena.app-id=%d" % d.app_id)
        running = d.eng.docker("inspect", "--format", "{{.Image}}", cid)
        assert running == image_id(d.eng, delta) != src_id
        assert image_id(d.eng, d.eng.image_v2) == "", "the image was pulled whole"
        assert d.cloud.errors == [], d.cloud.errors


test_a_delta_update_replaces_the_service_and_waits_while_the_delta_is_made.timeout_s = 150


def test_a_4xx_from_the_delta_server_falls_back_to_a_full_pull():
    with Device() as d:
        d.release1()
        d.cloud.delta_answers = [(400, {"message": "cannot make that delta"})]
        mark = d.release2()
        log = d.ad.log()[mark:]
        assert re.search(r"Falling back to a full download of image '%s': .*400"
                         % re.escape(d.eng.image_v2), log), log
        assert "Downloading image '%s'" % d.eng.image_v2 in log, log
        assert len(d.cloud.deltas_asked) == 1
        assert image_id(d.eng, d.eng.image_v2) != ""
        assert d.cloud.errors == [], d.cloud.errors


test_a_4xx_from_the_delta_server_falls_back_to_a_full_pull.timeout_s = 150


def test_401_garbage_and_a_hung_server_are_retried_without_falling_back():
    with Device({"SUPERVISOR_DELTA_REQUEST_TIMEOUT": "1500"}) as d:
        d.release1()
        delta = d.delta_image()
        d.delta_tags.append(delta)
        d.cloud.delta_answers = [(401, {"message": "Unauthorized"}), (200, "<html>not json"),
                                 (200, "hang"), (200, {"name": delta})]
        mark = d.release2(timeout=90)
        log = d.ad.log()[mark:]
        failures = re.findall(r"Failed to download delta for image '%s' due to '([^']*)'"
                              % re.escape(d.eng.image_v2), log)
        assert len(failures) == 3, log
        assert "401" in failures[0], failures
        assert "names no image" in failures[1], failures
        assert "Timeout" in failures[2] or "timed out" in failures[2], failures
        assert "Falling back" not in log, log
        assert image_id(d.eng, d.eng.image_v2) == ""
        assert d.cloud.errors == [], d.cloud.errors


test_401_garbage_and_a_hung_server_are_retried_without_falling_back.timeout_s = 150


def test_a_delta_that_does_not_apply_falls_back_after_three_tries():
    with Device() as d:
        d.release1()
        missing = "%s/agentd-test/busybox:delta-missing-%s" % (d.eng.registry,
                                                              secrets.token_hex(4))
        d.cloud.delta_default = (200, {"name": missing})
        mark = d.release2(timeout=90)
        log = d.ad.log()[mark:]
        assert len(re.findall(r"Failed to download delta for image", log)) == 2, log
        assert "Falling back to a full download of image '%s': its delta did not apply 3 " \
            "times" % d.eng.image_v2 in log, log
        assert image_id(d.eng, d.eng.image_v2) != ""


test_a_delta_that_does_not_apply_falls_back_after_three_tries.timeout_s = 150


def test_deltas_off_or_of_version_2_never_ask_the_delta_server():
    with Device({"SUPERVISOR_DELTA": "0"}) as d:
        d.release1()
        d.release2()
        assert d.cloud.deltas_asked == [] and d.cloud.find("GET", "/auth/v1/token") == []
        assert "Downloading delta" not in d.ad.log()
    with Device({"SUPERVISOR_DELTA_VERSION": "2"}) as d:
        d.release1()
        mark = d.release2()
        assert "Delta version 2 is not supported (only 3 is): downloading image '%s' whole" \
            % d.eng.image_v2 in d.ad.log()[mark:], d.ad.log_tail(20)
        assert d.cloud.deltas_asked == []


test_deltas_off_or_of_version_2_never_ask_the_delta_server.timeout_s = 150


def test_deltas_wait_for_balena_engine_outside_the_test_build():
    eng = engine()
    with FakeCloud() as cloud:
        port = lib.free_port()
        cfg = {"apiEndpoint": cloud.url, "deltaEndpoint": cloud.url, "apiKey": PROVISIONING_KEY,
               "applicationId": 1234, "deviceType": "generic-amd64",
               "appUpdatePollInterval": 500, "balenaRootCA": cloud.ca_b64, "listenPort": port}
        app_id = 850000 + secrets.randbelow(9000)
        app_uuid = "de17b%027x" % app_id
        with lib.Agentd(args=["-s", eng.sock], config=cfg,
                        env={"AGENTD_TEST_DELTAS": "1"}) as ad:
            try:
                lib.wait_until(lambda: getattr(cloud, "uuid", None) is not None, 30,
                               what="provisioning")
                cloud.target = {cloud.uuid: {"name": "x", "config": {
                    "SUPERVISOR_DELTA": "1", "SUPERVISOR_DELTA_VERSION": "3"},
                    "apps": {app_uuid: {"id": app_id, "name": "a", "releases": {"c1": {
                        "id": 1, "services": {"main": {
                            "id": 1, "image_id": 10, "image": eng.image, "environment": {},
                            "labels": {}, "composition": {"command": ["sh", "-c", WAIT],
                                                          "network_mode": "none"}}},
                        "volumes": {}, "networks": {}}}}}}}
                ad.wait_log(r"The engine does not apply deltas \(it is not balenaEngine\): "
                            r"downloading image '%s' whole" % re.escape(eng.image), 60)
                assert cloud.deltas_asked == []
            finally:
                ids = eng.docker("ps", "-aq", "--filter", "label=io.balena.app-id=%d" % app_id,
                                 check=False).split()
                if ids:
                    eng.docker("rm", "-f", *ids, check=False)
                eng.docker("network", "rm", app_uuid + "_default", check=False)


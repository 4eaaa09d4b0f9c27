"""test_enginectl.py - enginectl against the real engine and registry (issue 3).

enginectl runs sandboxed (kill mode) under engine-drive, which plays agentd's
part. Every test removes the containers, networks, volumes and images it made.
"""
import time

import lib
from engine import Drive, engine, unique

# A service that prints on both streams, in a known order, then waits for TERM.
CHATTY = ("echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2; sleep 0.2; "
          "echo err-2 >&2; trap 'exit 0' TERM; while :; do sleep 0.1; done")


def spec(eng, cmd, labels=None, tty=False):
    return {"Image": eng.local_image, "Cmd": ["sh", "-c", cmd], "Tty": tty,
            "Labels": labels or {}, "HostConfig": {"NetworkMode": "none"}}


def test_pull_from_local_registry_reports_progress_to_100():
    eng = engine()
    eng.docker("rmi", "-f", eng.image, check=False)
    try:
        with Drive(eng) as d:
            tag = d.send("image.pull", {"image": eng.image})
            r = d.reply(tag, 120)
            assert r["type"] == "engine-result", r
            assert r["body"]["body"]["percent"] == 100
            pct = [e["body"]["percent"] for e in d.find_events(
                lambda e: e.get("event") == "engine-progress"
                and e["body"]["image"] == eng.image)]
            assert pct and pct[0] == 0 and pct[-1] == 100, pct
            assert pct == sorted(pct), "progress went backwards: %s" % pct
            assert d.call("image.inspect", {"image": eng.image})["Id"].startswith("sha256:")
    finally:
        eng.docker("rmi", "-f", eng.image, check=False)


def test_pull_of_missing_image_is_a_clear_error():
    eng = engine()
    with Drive(eng) as d:
        err = d.fail("image.pull", {"image": eng.registry + "/agentd-test/does-not-exist:1"})
        assert err["status"] == 404, err
        assert "not found" in err["error"] or "unknown" in err["error"], err
        err = d.fail("image.pull", {"image": "127.0.0.1:1/nothing-listens-here"})
        assert "connection refused" in err["error"], err


def test_container_lifecycle_with_labels():
    eng = engine()
    name, renamed = unique("lc"), unique("lc-renamed")
    labels = {"io.balena.supervised": "true", "io.balena.app-id": "1234"}
    try:
        with Drive(eng) as d:
            cid = d.call("container.create",
                         {"name": name, "spec": spec(eng, CHATTY, labels)})["Id"]
            d.call("container.start", {"id": cid})
            listed = d.call("containers.list", {"labels": ["io.balena.app-id=1234"]})
            mine = [c for c in listed if c["Id"] == cid]
            assert mine and mine[0]["Labels"]["io.balena.supervised"] == "true", listed
            assert mine[0]["State"] == "running"
            assert not [c for c in d.call("containers.list", {"labels": ["io.balena.app-id=999"]})
                        if c["Id"] == cid]
            d.call("container.rename", {"id": cid, "name": renamed})
            assert d.call("container.inspect", {"id": cid})["Name"] == "/" + renamed
            d.call("container.stop", {"id": renamed, "timeout": 10})
            assert d.call("container.inspect", {"id": cid})["State"]["Running"] is False
            # Stopping a stopped container is not an error (304).
            d.call("container.stop", {"id": cid, "timeout": 1})
            d.call("container.remove", {"id": cid, "force": True, "volumes": True})
            err = d.fail("container.inspect", {"id": cid})
            assert err["status"] == 404, err
            # Engine events saw it all.
            acts = [e["body"]["action"] for e in d.find_events(
                lambda e: e.get("event") == "engine-event" and e["body"].get("id") == cid)]
            for a in ("create", "start", "rename", "die", "destroy"):
                assert a in acts, (a, acts)
    finally:
        eng.docker("rm", "-f", name, renamed, check=False)


def test_bad_arguments_are_refused_before_the_engine_is_asked():
    eng = engine()
    with Drive(eng) as d:
        assert d.fail("container.create", {"name": "bad name", "spec": {}})["status"] == 400
        assert d.fail("container.inspect", {"id": "../../images/json"})["status"] == 400
        assert d.fail("container.create", {"name": "ok", "spec": "not an object"})["status"] == 400
        assert d.fail("no.such.op", {})["status"] == 400
        assert d.fail("containers.list", {"labels": "x"})["status"] == 400


def test_network_and_volume_lifecycle():
    eng = engine()
    net, vol = unique("net"), unique("vol")
    labels = {"io.balena.supervised": "true", "agentd.test": net}
    try:
        with Drive(eng) as d:
            nid = d.call("network.create", {"spec": {"Name": net, "Labels": labels,
                                                      "Internal": True}})["Id"]
            nets = d.call("networks.list", {"labels": ["agentd.test=" + net]})
            assert [n["Name"] for n in nets] == [net], nets
            assert d.call("network.inspect", {"id": nid})["Internal"] is True
            d.call("volume.create", {"spec": {"Name": vol, "Labels": labels}})
            vols = d.call("volumes.list", {"labels": ["agentd.test=" + net]})["Volumes"]
            assert [v["Name"] for v in vols] == [vol], vols
            d.call("volume.remove", {"id": vol})
            d.call("network.remove", {"id": nid})
            assert d.call("networks.list", {"labels": ["agentd.test=" + net]}) == []
            assert not d.call("volumes.list", {"labels": ["agentd.test=" + net]})["Volumes"]
    finally:
        eng.docker("network", "rm", net, check=False)
        eng.docker("volume", "rm", "-f", vol, check=False)


def test_event_arrives_for_a_container_that_dies_on_its_own():
    eng = engine()
    name = unique("dies")
    try:
        with Drive(eng) as d:
            cid = d.call("container.create",
                         {"name": name, "spec": spec(eng, "sleep 0.3; exit 3")})["Id"]
            d.call("container.start", {"id": cid})
            die = d.wait_event(lambda e: e.get("event") == "engine-event"
                               and e["body"].get("id") == cid and e["body"]["action"] == "die",
                               20, what="die event")
            assert die["body"]["attributes"]["exitCode"] == "3", die
            assert die["body"]["type"] == "container"
    finally:
        eng.docker("rm", "-f", name, check=False)


def logs_of(d, cid):
    return [(e["body"]["stream"], e["body"]["message"]) for e in d.find_events(
        lambda e: e.get("event") == "engine-log" and e["body"]["container"] == cid)]


def test_log_lines_arrive_in_order_with_their_stream():
    eng = engine()
    name = unique("logs")
    try:
        with Drive(eng) as d:
            cid = d.call("container.create", {"name": name, "spec": spec(eng, CHATTY)})["Id"]
            d.call("container.start", {"id": cid})
            d.call("logs.follow", {"id": cid})
            want = [("stdout", "out-1"), ("stderr", "err-1"), ("stdout", "out-2"),
                    ("stderr", "err-2")]
            lib.wait_until(lambda: len(logs_of(d, cid)) >= 4, 20, what="four log lines")
            assert logs_of(d, cid) == want, logs_of(d, cid)
            ts = [e["body"]["timestamp"] for e in d.find_events(
                lambda e: e.get("event") == "engine-log" and e["body"]["container"] == cid)]
            assert all(t > 1500000000000 for t in ts), ts
            # Following stops when the container goes away.
            d.call("container.stop", {"id": cid, "timeout": 10})
            d.wait_event(lambda e: e.get("event") == "engine-log-end"
                         and e["body"]["container"] == cid, 20, what="end of the log stream")
    finally:
        eng.docker("rm", "-f", name, check=False)


def test_tty_container_logs_are_raw_stdout():
    eng = engine()
    name = unique("tty")
    try:
        with Drive(eng) as d:
            cid = d.call("container.create", {"name": name, "spec": spec(
                eng, "echo tty-line; trap 'exit 0' TERM; while :; do sleep 0.1; done",
                tty=True)})["Id"]
            d.call("container.start", {"id": cid})
            d.call("logs.follow", {"id": cid})
            lib.wait_until(lambda: logs_of(d, cid), 20, what="a log line")
            assert logs_of(d, cid)[0] == ("stdout", "tty-line"), logs_of(d, cid)
            d.call("logs.unfollow", {"id": cid})
            d.wait_event(lambda e: e.get("event") == "engine-log-end"
                         and e["body"]["container"] == cid, 10, what="unfollow")
    finally:
        eng.docker("rm", "-f", name, check=False)


def test_many_requests_run_concurrently_while_a_pull_is_slow():
    eng = engine()
    eng.docker("rmi", "-f", eng.image_v2, check=False)
    try:
        with Drive(eng) as d:
            pull = d.send("image.pull", {"image": eng.image_v2})
            tags = [d.send("version") for _ in range(20)]
            for t in tags:
                assert d.reply(t)["type"] == "engine-result"
            assert d.reply(pull, 120)["type"] == "engine-result"
    finally:
        eng.docker("rmi", "-f", eng.image_v2, check=False)


def test_engine_restart_reconnects_and_asks_for_resync():
    eng = engine()
    with Drive(eng) as d:
        pid = d.pid()

        def while_down():
            d.wait_event(lambda e: e.get("event") == "engine-state"
                         and e["body"]["connected"] is False, 20, what="engine lost")
            # Requests meanwhile fail clearly instead of hanging.
            assert d.fail("version")["status"] in (0, 503)

        eng.restart_dockerd(while_down)
        back = d.wait_event(lambda e: e.get("event") == "engine-state"
                            and e["body"]["connected"] is True
                            and e["body"].get("resync") is True, 60, what="resync")
        assert back["body"]["api_version"]
        assert d.call("version")["ApiVersion"]
        assert lib.alive(pid), "enginectl itself must survive the engine's restart"

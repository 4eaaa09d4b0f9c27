"""The local API that apid serves for an unmanaged device, and apid's log
lines reaching agentd's output."""
import re

from lib import Agentd, free_port


def test_unmanaged_api_answers_ping_healthy_404_and_405():
    with Agentd() as a:
        assert a.http("GET", "/ping") == (200, "OK"), a.http("GET", "/ping")
        assert a.http("GET", "/v1/healthy") == (200, "OK")
        status, _ = a.http("GET", "/nope")
        assert status == 404, "GET /nope answered %d, not 404" % status
        status, _ = a.http("POST", "/ping", body=b"")
        assert status == 405, "POST /ping answered %d, not 405" % status
        status, _ = a.http("DELETE", "/v1/healthy")
        assert status == 405, "DELETE /v1/healthy answered %d, not 405" % status


def test_head_and_query_string_on_ping():
    with Agentd() as a:
        status, body = a.http("HEAD", "/ping")
        assert (status, body) == (200, ""), (status, body)
        assert a.http("GET", "/ping?x=1") == (200, "OK")
        # The balena supervisor's router (Express) ignores a trailing slash.
        status, _ = a.http("GET", "/ping/")
        assert status == 200, "GET /ping/ answered %d, not 200" % status
        status, _ = a.http("GET", "/ping/x")
        assert status == 404, "GET /ping/x answered %d, not 404" % status


def test_apid_log_lines_reach_agentd_output_with_daemon_name():
    with Agentd() as a:
        m = a.wait_log(r"^apid: listening on 127\.0\.0\.1:(\d+)$")
        assert int(m.group(1)) == a.port, "apid says port %s, config.json has %d" % (
            m.group(1), a.port)
        # agentd's own lines carry its name; every line has a "name: " prefix.
        for line in a.log().splitlines():
            assert re.match(r"^(agentd|enginectl|apid|cloudsyncd): ", line), \
                "log line without a daemon name: %r" % line


def test_a_stalled_client_is_dropped_and_never_blocks_others():
    import socket
    port = free_port()
    with Agentd(config={"listenPort": port, "apiTimeout": 1500}) as a:
        a.port = port
        stalled = socket.create_connection(("127.0.0.1", a.port))
        stalled.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
        # others are served meanwhile
        assert a.http("GET", "/ping") == (200, "OK")
        stalled.settimeout(15)
        assert stalled.recv(1024) == b"", "the stalled connection should be closed"
        stalled.close()
        assert a.http("GET", "/ping") == (200, "OK")


def test_journal_logs_stream_journalctl_output_and_stop_with_the_client():
    import http.client
    import shutil
    import subprocess
    import lib
    with Agentd() as a:
        body = '{"count": 1}'
        hdr = {"Content-Type": "application/json"}
        if shutil.which("journalctl") is None:
            st, text = a.http("POST", "/v2/journal-logs", body, hdr)
            assert st == 503 and "journalctl" in text, (st, text)
            return
        want = subprocess.run(["journalctl", "-n", "1", "-o", "short", "--no-pager"],
                              capture_output=True, text=True).stdout
        st, text = a.http("POST", "/v2/journal-logs", body, hdr)
        assert st == 200, (st, text)
        if "No entries" in want:
            assert text == want, (text, want)
        st, text = a.http("POST", "/v2/journal-logs", '{"count": 0}', hdr)
        assert st == 400, (st, text)
        # a following client that hangs up takes its journalctl with it
        c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=5)
        c.request("POST", "/v2/journal-logs", '{"follow": true}', hdr)
        assert c.getresponse().status == 200

        def journalctls():
            return [p for p, name, state in lib.processes_with_parent(a.pid)
                    if name == "journalctl" and state != "Z"]
        lib.wait_until(journalctls, 10, what="journalctl running")
        c.close()
        lib.wait_until(lambda: not journalctls(), 10, what="journalctl stopped")

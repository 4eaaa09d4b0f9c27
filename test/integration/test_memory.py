"""test_memory.py - clients that come and go leave nothing behind in apid
(issue 16's soak found each /v2/local/logs client that hung up cost apid
about 1.4 kB for good: libevent hands an unfinished request back to its
user when the client goes, and apid never freed it).

apid's resident memory after 600 more log-stream clients have connected
and hung up must stay within 256 kB of what it was after the first 100
(the leak made it about 840 kB).
"""
import http.client

import lib

CLIENTS = 600
SLACK_KB = 256


def stream_once(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * lib.SCALE)
    try:
        conn.request("GET", "/v2/local/logs")
        r = conn.getresponse()
        assert r.status == 200, r.status
        assert r.readline(), "the stream's first line"
    finally:
        conn.close()


def test_log_stream_clients_that_hang_up_leave_no_memory_behind_in_apid():
    with lib.Agentd() as ad:
        pid = ad.children()["apid"]
        for _ in range(100):  # warm-up: buffers and caches of a busy apid
            stream_once(ad.port)
        before = lib.status_kb(pid, "VmRSS")
        for _ in range(CLIENTS):
            stream_once(ad.port)
        # the last hang-ups are seen once a request after them is answered
        lib.wait_until(lambda: ad.http("GET", "/ping")[0] == 200, 10)
        after = lib.status_kb(pid, "VmRSS")
        assert ad.children()["apid"] == pid, "apid restarted meanwhile"
        assert after - before <= SLACK_KB, \
            "apid grew by %d kB over %d log-stream clients" % (after - before, CLIENTS)

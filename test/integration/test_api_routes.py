"""test_api_routes.py - every route of the local API (apid/routes.c) against
what the balena supervisor answers (facts §1.3): success shapes, auth with
the global key in managed mode, 401/404/405/400/413/423, update locks on
reboot, shutdown and service actions, and the /v2/local/logs stream.

Tests that need containers run unmanaged (auth off, local mode) on the
private engine through test_state_engine.State, which removes the app's
containers, volumes and networks. Reboot and shutdown run harmless commands
from agentd.json that write a file in a temporary directory.
"""
import http.client
import json
import os
import re
import select
import socket
import sqlite3
import threading

import lib
from engine import engine, unique
from test_state_engine import State, app_id, service, target

JSON = {"Content-Type": "application/json"}
MANAGED_ENDPOINT = "https://127.0.0.1:9"  # nothing listens there: never reached


# --------------------------------------------------------------------------- helpers


def call(ad, method, path, body=None, headers=None, timeout=10.0):
    """(status, text) of one request; a dict/list body is sent as JSON."""
    h = {}
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    if body is not None:
        h.update(JSON)
    h.update(headers or {})
    return ad.http(method, path, body, h, timeout=timeout)


def call_json(ad, method, path, body=None, headers=None, expect=200):
    """The decoded JSON body of a request that must answer `expect`."""
    st, text = call(ad, method, path, body, headers)
    assert st == expect, "%s %s answered %d %r, not %d" % (method, path, st, text, expect)
    try:
        return json.loads(text)
    except ValueError:
        raise AssertionError("%s %s: body is not JSON: %r" % (method, path, text)) from None


def response(ad, method, path, body=None, headers=None):
    """(status, headers dict with lower-case names, text) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", ad.port, timeout=10 * lib.SCALE)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, \
            r.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Managed(lib.Agentd):
    """agentd with an apiEndpoint in config.json: a managed device, auth on."""

    def __init__(self, **kw):
        self.fixed_port = lib.free_port()
        super().__init__(config={"listenPort": self.fixed_port,
                                 "apiEndpoint": MANAGED_ENDPOINT}, **kw)

    def start(self):
        super().start()
        self.port = self.fixed_port  # the port config.json names
        return self


def global_key(ad):
    """The global API key (app_id 0) from agentd's database, once it is there."""
    path = os.path.join(ad.datadir, "agentd.sqlite")

    def read():
        try:
            db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=1)
            try:
                row = db.execute("SELECT key, scopes FROM api_secret WHERE app_id = 0 "
                                 "AND service_name IS NULL").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            return None
        return row
    key, scopes = lib.wait_until(read, 10, what="the global API key in the database")
    assert re.fullmatch(r"[0-9a-f]{32}", key), key
    assert json.loads(scopes) == [{"type": "global"}], scopes
    return key


def power_settings(tmp):
    """agentd.json whose reboot/shutdown commands append a line to files in tmp."""
    return {"reboot_command": ["sh", "-c", "echo reboot >> %s/reboot.txt" % tmp],
            "shutdown_command": ["sh", "-c", "echo shutdown >> %s/shutdown.txt" % tmp],
            "led_file": os.path.join(tmp, "led")}


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def wait_file_lines(path, what):
    return lib.wait_until(lambda: (read_file(path) or "").splitlines(), 10, what=what)


def user_lock(ad, aid, svc):
    """Create the application's (root-owned) update lock of a service."""
    d = os.path.join(ad.rundir, "services", str(aid), svc)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "updates.lock")
    with open(path, "w"):
        pass
    return path


def running(s, name):
    """The one running container of service `name`, or None."""
    cs = s.containers().get(name, [])
    return cs[0] if len(cs) == 1 and cs[0]["State"]["Running"] else None


def wait_replaced(s, name, old_id, timeout=30):
    """Wait until service `name` runs in a container other than old_id; return it."""
    def new():
        c = running(s, name)
        return c if c is not None and c["Id"] != old_id else None
    return lib.wait_until(new, timeout, interval=0.1,
                          what="%s recreated (old %s)" % (name, old_id[:12]))


def exec_sh(s, cid, script):
    return s.eng.docker("exec", cid, "sh", "-c", script, check=False)


def one_service_app(aid, img, **compose):
    return target(aid, "c1", 1, [service(1, "one", img, 11, env={"A": "1"}, **compose)])


def semver(text):
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+([0-9A-Za-z.-]+))?", text)
    assert m, "not a semantic version: %r" % text
    return tuple(int(m.group(i)) for i in (1, 2, 3))


# --------------------------------------------------------------------------- managed: auth


def test_managed_ping_and_healthy_answer_without_a_key():
    with Managed() as a:
        global_key(a)  # auth is on once the key exists
        assert call(a, "GET", "/v2/version") == (401, "Unauthorized")
        assert call(a, "GET", "/ping") == (200, "OK")
        assert call(a, "GET", "/v1/healthy") == (200, "OK")


def test_managed_requests_without_a_valid_key_get_401():
    with Managed() as a:
        key = global_key(a)
        for path in ("/v2/version", "/v1/device"):
            for headers in ({}, {"Authorization": "Basic " + key},
                            {"Authorization": "Bearer " + key[::-1]},
                            {"Authorization": "Bearer"},
                            {"Authorization": key}):
                got = call(a, "GET", path, headers=headers)
                assert got == (401, "Unauthorized"), (path, headers, got)
            got = call(a, "GET", path + "?apikey=" + key[::-1])
            assert got == (401, "Unauthorized"), (path, "wrong ?apikey", got)
            # ?apikey is looked at first (as balena does): a wrong one is not
            # rescued by a good header
            got = call(a, "GET", path + "?apikey=" + key[::-1],
                       headers={"Authorization": "Bearer " + key})
            assert got == (401, "Unauthorized"), (path, "wrong ?apikey + Bearer", got)
        # the 401 is not just for GET: an action route refuses too
        assert call(a, "POST", "/v1/blink", b"") == (401, "Unauthorized")


def route_table():
    """(method, path, auth) of every route in apid's table, parameters filled in."""
    with open(os.path.join(lib.REPO, "apid", "routes.c")) as f:
        text = f.read()
    found = re.findall(r'\{EVHTTP_REQ_(\w+), "([^"]+)", ([01]),', text)
    assert len(found) > 30, "routes table not found in apid/routes.c"
    return [(m, re.sub(r":\w+", "1", p), a == "1") for m, p, a in found]


def test_managed_every_route_but_ping_and_healthy_needs_a_key():
    with Managed() as a:
        key = global_key(a)
        for method, path, auth in route_table():
            body = None if method in ("GET", "HEAD") else b"{}"
            h = {"Content-Type": "application/json"}
            for headers in ({}, {"Authorization": "Bearer " + key[::-1]},
                            {"Authorization": "Basic " + key}):
                st, text = call(a, method, path, body, dict(h, **headers), timeout=10)
                if auth:
                    assert (st, text) == (401, "Unauthorized"), (method, path, headers, st)
                else:
                    assert st == 200, (method, path, st, text)
        assert {p for m, p, auth in route_table() if not auth} == {"/ping", "/v1/healthy"}

def test_managed_key_is_accepted_by_query_bearer_and_apikey_schemes():
    with Managed() as a:
        key = global_key(a)
        ways = [("?apikey=" + key, {}), ("", {"Authorization": "Bearer " + key}),
                ("", {"Authorization": "ApiKey " + key}), ("", {"Authorization": "bearer " + key}),
                ("", {"Authorization": "APIKEY " + key})]
        for query, headers in ways:
            v = call_json(a, "GET", "/v2/version" + query, headers=headers)
            assert v["status"] == "success", (query, headers, v)
            d = call_json(a, "GET", "/v1/device" + query, headers=headers)
            assert d["api_port"] == a.port, (query, headers, d)


def test_managed_target_state_post_is_refused_outside_local_mode():
    with Managed() as a:
        key = global_key(a)
        body = call_json(a, "POST", "/v2/local/target-state",
                         {"local": {"name": "x", "config": {}, "apps": {}}},
                         {"Authorization": "Bearer " + key}, expect=400)
        assert body == {"status": "failed",
                        "message": "Target state can only set when device is in local mode"}, body


def test_regenerate_api_key_replaces_the_calling_key():
    with Managed() as a:
        old = global_key(a)
        st, new = call(a, "POST", "/v1/regenerate-api-key", b"",
                       {"Authorization": "Bearer " + old})
        assert st == 200 and re.fullmatch(r"[0-9a-f]{32}", new), (st, new)
        assert new != old
        assert call(a, "GET", "/v2/version", headers={"Authorization": "Bearer " + old}) == \
            (401, "Unauthorized")
        assert call(a, "GET", "/v2/version?apikey=" + old) == (401, "Unauthorized")
        v = call_json(a, "GET", "/v2/version", headers={"Authorization": "Bearer " + new})
        assert v["status"] == "success"
        assert global_key(a) == new  # stored, so it survives a restart
        # the old key cannot regenerate any more
        st, _ = call(a, "POST", "/v1/regenerate-api-key?apikey=" + old, b"")
        assert st == 401, st


# --------------------------------------------------------------------------- routing errors


def test_unknown_paths_answer_404_not_found():
    with lib.Agentd() as a:
        for method, path in (("GET", "/nope"), ("GET", "/v2/nope"), ("POST", "/v1/apps"),
                             ("GET", "/v1/apps/1/stop/extra"), ("GET", "/v2/applications/1"),
                             ("PATCH", "/v3/device")):
            got = call(a, method, path, b"" if method != "GET" else None)
            assert got == (404, "Not Found"), (method, path, got)


def test_wrong_method_answers_405_with_allow_header():
    with lib.Agentd() as a:
        # GET routes answer HEAD too, and say so
        for method, path, allow in (("POST", "/v2/version", "GET, HEAD"),
                                    ("GET", "/v1/reboot", "POST"),
                                    ("DELETE", "/v2/device/tags", "GET, HEAD, PATCH"),
                                    ("PUT", "/v2/cleanup-volumes", "GET, HEAD, POST"),
                                    ("GET", "/v2/applications/7/restart-service", "POST"),
                                    ("POST", "/v1/device/host-config", "GET, HEAD, PATCH"),
                                    ("POST", "/v1/apps/7", "GET, HEAD")):
            st, headers, text = response(a, method, path, b"" if method != "GET" else None)
            assert st == 405 and text == "Method Not Allowed", (method, path, st, text)
            got = sorted(m.strip() for m in headers.get("allow", "").split(","))
            assert got == sorted(allow.split(", ")), (method, path, headers.get("allow"))


def test_malformed_json_body_answers_400():
    with lib.Agentd() as a:
        for method, path in (("POST", "/v1/update"), ("PATCH", "/v1/device/host-config"),
                             ("POST", "/v2/local/target-state")):
            st, text = call(a, method, path, '{"force": tru')
            assert st == 400, (method, path, st, text)
            body = json.loads(text)
            assert body["status"] == "failed", body
            assert body["message"].startswith("Malformed JSON: "), body


def chunked_post_status(port, path, mib):
    """POST `mib` MiB of JSON whitespace in 1 MiB chunks; the answer's status, or
    None if the connection was reset mid-body without an answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20 * lib.SCALE)
    try:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" % path.encode())
        chunk = b" " * (1024 * 1024)
        try:
            for _ in range(mib):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer may be waiting
        try:
            head = sock.recv(64)
        except ConnectionResetError:
            return None
        m = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
        assert m, "not an HTTP answer: %r" % head
        return int(m.group(1))
    finally:
        sock.close()


def test_body_over_10_mb_answers_413():
    with lib.Agentd() as a:
        size = 11 * 1024 * 1024
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=20 * lib.SCALE)
        try:
            conn.putrequest("POST", "/v2/local/target-state")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            # libevent judges the Content-Length: the answer may come before the body
            ready, _, _ = select.select([conn.sock], [], [], 3 * lib.SCALE)
            sent_body = False
            if not ready:
                sent_body = True
                try:
                    conn.send(b" " * size)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            try:
                resp = conn.getresponse()
                status = resp.status
                resp.read()
            except (ConnectionResetError, http.client.RemoteDisconnected):
                # closed on us mid-body: only acceptable if we were still sending
                assert sent_body, "connection reset without an answer before any body was sent"
                status = None
            assert status in (413, None), "11 MB body answered %s, not 413" % status
        finally:
            conn.close()
        # the same without a Content-Length: chunks adding up to 11 MB
        status = chunked_post_status(a.port, "/v1/update", 11)
        assert status in (413, None), "11 MB chunked body answered %s, not 413" % status
        # apid is still serving, and a body under the limit is read
        assert call(a, "GET", "/ping") == (200, "OK")
        pad = '{"force": true}' + " " * (9 * 1024 * 1024)
        st, text = call(a, "POST", "/v1/update", pad)
        assert st == 204, ("9 MB body", st, text)


def raw_get(sock, path="/ping"):
    """Send one keep-alive GET on sock; (status, headers, body) of the answer."""
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "closed before an answer: %r" % data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = dict((k.lower(), v.strip()) for k, v in
                   (line.split(":", 1) for line in lines[1:]))
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(4096)
        assert chunk, "closed mid-body"
        body += chunk
    return int(lines[0].split()[1]), headers, body.decode()


def closed_by_peer(sock):
    """True once the server has closed sock (EOF or reset), else False."""
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_connections_beyond_the_cap_get_503_and_are_closed():
    cap = 3
    with lib.Agentd(settings={"api_max_connections": cap}) as a:
        apid = a.children()["apid"]
        held = []
        try:
            # two keep-alive clients, and one that connects and says nothing
            for _ in range(2):
                s = socket.create_connection(("127.0.0.1", a.port), timeout=10 * lib.SCALE)
                held.append(s)
                assert raw_get(s)[0] == 200
            idle = socket.create_connection(("127.0.0.1", a.port), timeout=10 * lib.SCALE)
            held.append(idle)
            # a fourth: 503 with Connection: close, then closed by apid
            extra = socket.create_connection(("127.0.0.1", a.port), timeout=10 * lib.SCALE)
            held.append(extra)
            st, headers, body = raw_get(extra)
            assert (st, body) == (503, "Too many connections"), (st, headers, body)
            assert headers.get("connection", "").lower() == "close", headers
            extra.setblocking(False)
            lib.wait_until(lambda: closed_by_peer(extra), 10, what="apid closing the 4th")
            # one beyond the cap that never sends a request is dropped soon
            quiet = socket.create_connection(("127.0.0.1", a.port), timeout=10 * lib.SCALE)
            held.append(quiet)
            quiet.setblocking(False)
            lib.wait_until(lambda: closed_by_peer(quiet), 15,
                           what="apid dropping a silent connection beyond the cap")
            # the first clients are still served on their connections
            assert raw_get(held[0])[0] == 200 and raw_get(held[1])[0] == 200
            # the silent one inside the cap leaving frees a place
            idle.close()

            def served():
                with socket.create_connection(("127.0.0.1", a.port),
                                              timeout=10 * lib.SCALE) as s:
                    return raw_get(s)[0] == 200
            lib.wait_until(served, 10, what="a new connection served after one left")
            # a log stream counts while open and frees its place when it ends
            def open_stream():  # a closed served() socket may not be seen yet
                s = socket.create_connection(("127.0.0.1", a.port), timeout=10 * lib.SCALE)
                s.sendall(b"GET /v2/local/logs HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(4096).startswith(b"HTTP/1.1 200"):
                    return s
                s.close()
                return None
            stream = lib.wait_until(open_stream, 10, what="a /v2/local/logs stream")
            held.append(stream)
            with socket.create_connection(("127.0.0.1", a.port), timeout=10 * lib.SCALE) as s:
                assert raw_get(s)[0] == 503, "the logs stream did not count"
            stream.close()
            lib.wait_until(served, 10, what="a place freed by the logs stream leaving")
        finally:
            for s in held:
                s.close()
        assert a.running() and a.children().get("apid") == apid, "apid or agentd died"


# --------------------------------------------------------------------------- device routes


def test_version_is_semver_at_least_9_7_0():
    with lib.Agentd() as a:
        v = call_json(a, "GET", "/v2/version")
        assert v["status"] == "success", v
        assert semver(v["version"]) >= (9, 7, 0), v  # livepush needs >= 9.7.0


def test_device_name_vpn_v1_device_and_host_config_read():
    with lib.Agentd() as a:
        t = {"local": {"name": "api-routes-dev", "config": {"SUPERVISOR_LOCAL_MODE": "true"},
                       "apps": {}}}
        assert call_json(a, "POST", "/v2/local/target-state", t) == \
            {"status": "success", "message": "OK"}
        assert call_json(a, "GET", "/v2/device/name") == \
            {"status": "success", "deviceName": "api-routes-dev"}
        assert call_json(a, "GET", "/v2/device/vpn") == \
            {"status": "success", "vpn": {"enabled": False, "connected": False}}
        d = call_json(a, "GET", "/v1/device")
        for k in ("api_port", "ip_address", "os_version", "mac_address", "supervisor_version",
                  "update_pending", "update_failed", "update_downloaded"):
            assert k in d, (k, d)
        assert d["api_port"] == a.port, d
        assert isinstance(d["update_pending"], bool) and d["update_failed"] is False, d
        hc = call_json(a, "GET", "/v1/device/host-config")
        with open("/etc/hostname") as f:
            assert hc == {"network": {"hostname": f.readline().strip()}}, hc
        info = call_json(a, "GET", "/v2/local/device-info")
        assert info["status"] == "success" and info["info"]["arch"] and \
            info["info"]["deviceType"], info
        got = call_json(a, "GET", "/v2/local/target-state")
        assert got["status"] == "success" and got["state"]["local"]["name"] == "api-routes-dev"


def test_host_config_patch_sets_hostname_in_config_json():
    with lib.Agentd() as a:
        with open(a.config_path) as f:
            before = json.load(f)
        st, text = call(a, "PATCH", "/v1/device/host-config", {"network": {"hostname": "x"}})
        assert (st, text) == (200, "OK"), (st, text)
        with open(a.config_path) as f:
            after = json.load(f)
        assert after.get("hostname") == "x", after
        before["hostname"] = "x"
        assert after == before, (before, after)  # nothing else lost
        st, text = call(a, "PATCH", "/v1/device/host-config", {"network": {"hostname": 5}})
        assert st == 400, (st, text)
        with open(a.config_path) as f:
            assert json.load(f)["hostname"] == "x"
        # an empty hostname means the first 7 characters of the device uuid
        st, text = call(a, "PATCH", "/v1/device/host-config", {"network": {"hostname": ""}})
        assert (st, text) == (200, "OK"), (st, text)
        with open(a.config_path) as f:
            after = json.load(f)
        assert re.fullmatch(r"[0-9a-f]{32}", after.get("uuid", "")), after
        assert after["hostname"] == after["uuid"][:7], after


def test_host_config_proxy_is_written_to_the_boot_dir_read_back_and_removed():
    with lib.TempDir() as boot, lib.Agentd(settings={"boot_dir": boot}) as a:
        conf = os.path.join(boot, "system-proxy", "redsocks.conf")
        noproxy = os.path.join(boot, "system-proxy", "no_proxy")
        proxy = {"type": "socks5", "ip": "10.9.8.7", "port": 1080, "login": "dev",
                 "password": "secret", "noProxy": ["10.0.0.0/8", "example.org"],
                 "dns": "1.1.1.1:53"}
        st, text = call(a, "PATCH", "/v1/device/host-config", {"network": {"proxy": proxy}})
        assert (st, text) == (200, "OK"), (st, text)
        text = read_file(conf)
        for line in ("type = socks5;", "ip = 10.9.8.7;", "port = 1080;", 'login = "dev";',
                     'password = "secret";', "local_port = 12345;", "remote_ip = 1.1.1.1;"):
            assert line in text, (line, text)
        assert read_file(noproxy).split() == ["10.0.0.0/8", "example.org"]
        hc = call_json(a, "GET", "/v1/device/host-config")
        assert hc["network"]["proxy"] == proxy, hc
        # a partial change keeps the rest
        st, text = call(a, "PATCH", "/v1/device/host-config",
                        {"network": {"proxy": {"port": 3128, "dns": False}}})
        assert (st, text) == (200, "OK"), (st, text)
        want = dict(proxy, port=3128)
        del want["dns"]
        assert call_json(a, "GET", "/v1/device/host-config")["network"]["proxy"] == want
        # bad input: 400 with the reason, and nothing changes
        for bad, why in (({"type": "gopher"}, "socks5"), ({"port": 70000}, "port"),
                         ({"ip": "1.2.3.4;\nbase {"}, "ip"), ("socks5", "object")):
            st, text = call(a, "PATCH", "/v1/device/host-config",
                            {"network": {"proxy": bad}})
            assert st == 400 and why in text, (bad, st, text)
        assert call_json(a, "GET", "/v1/device/host-config")["network"]["proxy"] == want
        # {} removes the proxy
        st, text = call(a, "PATCH", "/v1/device/host-config", {"network": {"proxy": {}}})
        assert (st, text) == (200, "OK"), (st, text)
        assert not os.path.exists(conf) and not os.path.exists(noproxy)
        assert "proxy" not in call_json(a, "GET", "/v1/device/host-config")["network"]


class RaspberryPi(lib.Agentd):
    """An unmanaged Raspberry Pi 4: config.txt is its boot config."""

    def __init__(self, **kw):
        self.fixed_port = lib.free_port()
        super().__init__(config={"listenPort": self.fixed_port,
                                 "deviceType": "raspberrypi4-64"}, **kw)

    def start(self):
        super().start()
        self.port = self.fixed_port
        return self


def test_host_config_vars_go_to_config_txt_and_the_device_reboots():
    with lib.TempDir() as tmp:
        boot = os.path.join(tmp, "boot")
        os.makedirs(boot)
        txt = os.path.join(boot, "config.txt")
        with open(txt, "w") as f:
            f.write("# from the image\nkernel=kernel8.img\ngpu_mem=16\n")
        settings = dict(power_settings(tmp), boot_dir=boot)
        # boot config is applied by the apply loop, which runs with an engine
        with RaspberryPi(settings=settings, args=["-s", engine().sock]) as a:
            t = {"local": {"name": "pi", "config": {"SUPERVISOR_LOCAL_MODE": "true",
                                                    "RESIN_HOST_CONFIG_gpu_mem": "128",
                                                    "BALENA_HOST_CONFIG_dtparam":
                                                        '"i2c_arm=on","spi=on"'},
                           "apps": {}}}
            assert call_json(a, "POST", "/v2/local/target-state", t)["status"] == "success"
            mark = "# --- below: written by agentd from HOST_CONFIG_ variables ---\n"
            want = ("# from the image\nkernel=kernel8.img\n" + mark + "gpu_mem=128\n"
                    "dtparam=i2c_arm=on\ndtparam=spi=on\n")
            lib.wait_until(lambda: read_file(txt) == want, 10, what="config.txt updated")
            assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "the reboot") == ["reboot"]
            assert "Applying boot config" in a.log()
            assert os.path.exists(os.path.join(a.rundir, "reboot-after-apply"))
            # a var taken away takes its lines; the image's own stay
            t["local"]["config"] = {"SUPERVISOR_LOCAL_MODE": "true",
                                    "RESIN_HOST_CONFIG_gpu_mem": "128"}
            assert call_json(a, "POST", "/v2/local/target-state", t)["status"] == "success"
            want = "# from the image\nkernel=kernel8.img\n" + mark + "gpu_mem=128\n"
            lib.wait_until(lambda: read_file(txt) == want, 10, what="dtparam lines removed")
            # a forbidden key changes nothing and says why
            t["local"]["config"]["RESIN_HOST_CONFIG_kernel"] = "evil.img"
            assert call_json(a, "POST", "/v2/local/target-state", t)["status"] == "success"
            a.wait_log(r"Attempt to change blacklisted config value kernel", 10)
            assert read_file(txt) == want


def test_metrics_report_each_daemon_in_prometheus_text():
    with lib.Agentd() as a:
        st, headers, text = response(a, "GET", "/metrics")
        assert st == 200 and headers["content-type"].startswith("text/plain"), (st, headers)
        m = re.search(r'^agentd_daemon_rss_bytes\{daemon="apid"\} (\d+)$', text, re.M)
        assert m and int(m.group(1)) > 0, text
        assert "# TYPE agentd_daemon_rss_bytes gauge" in text, text
        for line in text.splitlines():
            assert line.startswith("#") or re.fullmatch(
                r'[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.eE+-]+', line), line


def test_blink_answers_ok_and_toggles_the_led_file():
    with lib.TempDir() as tmp, lib.Agentd(settings=power_settings(tmp)) as a:
        led = os.path.join(tmp, "led")
        assert call(a, "POST", "/v1/blink", b"") == (200, "OK")
        lib.wait_until(lambda: read_file(led) == "1", 5, what="the LED on")
        lib.wait_until(lambda: read_file(led) == "0", 5, what="the LED off")


def test_update_answers_204_and_202_when_instant_updates_are_off():
    with lib.Agentd() as a:
        st, text = call(a, "POST", "/v1/update", b"")
        assert (st, text) == (204, ""), (st, text)
        t = {"local": {"name": "d", "config": {"SUPERVISOR_LOCAL_MODE": "true",
                                                "SUPERVISOR_INSTANT_UPDATE_TRIGGER": "false"},
                       "apps": {}}}
        assert call_json(a, "POST", "/v2/local/target-state", t)["status"] == "success"
        st, text = call(a, "POST", "/v1/update", {})
        assert (st, text) == (202, ""), (st, text)
        st, text = call(a, "POST", "/v1/update", {"force": True})
        assert (st, text) == (204, ""), (st, text)


def test_reboot_and_shutdown_answer_202_and_run_the_configured_command():
    with lib.TempDir() as tmp, lib.Agentd(settings=power_settings(tmp)) as a:
        assert call_json(a, "POST", "/v1/reboot", {}, expect=202) == {"Data": "OK", "Error": None}
        assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "reboot command") == ["reboot"]
        assert call_json(a, "POST", "/v1/shutdown", b"", expect=202) == \
            {"Data": "OK", "Error": None}
        assert wait_file_lines(os.path.join(tmp, "shutdown.txt"), "shutdown command") == \
            ["shutdown"]


def test_device_tags_patch_is_validated_and_accepted_and_journal_logs_are_validated():
    with lib.Agentd() as a:
        # GET reads the tags from the cloud: an unmanaged device has none to ask
        body = call_json(a, "GET", "/v2/device/tags", expect=500)
        assert body["status"] == "failed", body
        # PATCH stores them for the cloud: 202 as balena answers
        assert call_json(a, "PATCH", "/v2/device/tags", {"k": "v"}, expect=202) == \
            {"status": "success"}
        shape = "Invalid tags body, must be an object like {[tagKey: string]: string}"
        for bad in (["k"], {"k": 1}, "x"):
            got = call_json(a, "PATCH", "/v2/device/tags", bad if bad != "x" else '"x"',
                            expect=400)
            assert got == {"status": "failed", "message": shape}, (bad, got)
        got = call_json(a, "PATCH", "/v2/device/tags", {"a b": "v"}, expect=400)
        assert got == {"status": "failed", "message": "Tag keys cannot contain whitespace"}
        # journal-logs itself is tested in test_api.py; a bad count is a JSON 400
        st, text = call(a, "POST", "/v2/journal-logs", {"count": "x"})
        assert st == 400 and json.loads(text)["status"] == "failed", (st, text)


# --------------------------------------------------------------------------- locks


def test_reboot_and_shutdown_are_refused_423_under_a_user_lock_and_force_goes_ahead():
    aid = app_id()
    with lib.TempDir() as tmp, State(aid, settings=power_settings(tmp)) as s:
        s.apply(one_service_app(aid, s.eng.local_image))
        lock = user_lock(s.ad, aid, "one")
        m = s.ad.mark()
        want = {"Data": "", "Error": "Lockfile exists for { appId: %s, service: one }" % aid}
        for path in ("/v1/reboot", "/v1/shutdown"):
            got = call_json(s.ad, "POST", path, {}, expect=423)
            assert got == want, (path, got)
            got = call_json(s.ad, "POST", path, {"force": False}, expect=423)
            assert got == want, (path, got)
        assert os.path.exists(lock), "a refused reboot removed the application's lock"
        # host config changes restart the engine on a device: locked too
        assert call(s.ad, "PATCH", "/v1/device/host-config", {"network": {"hostname": "y"}}) \
            == (423, want["Error"])
        with open(s.ad.config_path) as f:
            assert "hostname" not in json.load(f)
        assert not re.search(r"Rebooting|Shutting down", s.ad.log()[m:]), s.ad.log()[m:]
        got = call_json(s.ad, "POST", "/v1/reboot", {"force": True}, expect=202)
        assert got == {"Data": "OK", "Error": None}, got
        assert wait_file_lines(os.path.join(tmp, "reboot.txt"), "reboot command") == ["reboot"]
        assert s.ad.log()[m:].count("Rebooting") == 1  # the refused ones never scheduled it
        assert read_file(os.path.join(tmp, "shutdown.txt")) is None
        # force removed the application's lock; agentd holds its own until the reboot
        st = os.stat(lock, follow_symlinks=False) if os.path.lexists(lock) else None
        assert st is None or st.st_uid == lib.NOBODY_UID, "force left the application's lock"
        # agentd's own locks (taken for the reboot) are not the application's
        assert call(s.ad, "PATCH", "/v1/device/host-config", {"network": {"hostname": "y"}}) \
            == (200, "OK")


def test_reboot_and_shutdown_wait_for_a_host_os_update_unless_forced():
    with lib.TempDir() as tmp:
        state = os.path.join(tmp, "state")
        os.makedirs(state)
        with lib.Agentd(settings=dict(power_settings(tmp), state_dir=state)) as a:
            for crumb in ("rollback-health-breadcrumb", "rollback-altboot-breadcrumb"):
                path = os.path.join(state, crumb)
                open(path, "w").close()
                for route in ("/v1/reboot", "/v1/shutdown"):
                    got = call_json(a, "POST", route, {}, expect=423)
                    assert got == {"Data": "", "Error": "Waiting for Host OS update to finish"}
                os.unlink(path)
            open(os.path.join(state, "rollback-health-breadcrumb"), "w").close()
            assert call_json(a, "POST", "/v1/shutdown", {"force": True}, expect=202) == \
                {"Data": "OK", "Error": None}
            assert wait_file_lines(os.path.join(tmp, "shutdown.txt"), "shutdown") == \
                ["shutdown"]
            assert read_file(os.path.join(tmp, "reboot.txt")) is None

def test_a_reboot_command_that_fails_gives_the_apps_their_locks_back():
    aid = app_id()
    with State(aid, settings={"reboot_command": ["sh", "-c", "exit 3"]}) as s:
        s.apply(one_service_app(aid, s.eng.local_image))
        lockdir = os.path.join(s.ad.rundir, "services", aid, "one")
        got = call_json(s.ad, "POST", "/v1/reboot", {}, expect=202)
        assert got == {"Data": "OK", "Error": None}, got
        s.ad.wait_log(r"The reboot or shutdown command failed \(exit status 3\)", 10)
        lib.wait_until(lambda: not os.path.exists(os.path.join(lockdir, "updates.lock")), 10,
                       what="agentd's lock released")
        assert not os.path.exists(os.path.join(lockdir, "resin-updates.lock"))
        assert running(s, "one")["State"]["Running"]

def test_stop_service_is_refused_423_under_a_user_lock_and_force_stops_it():
    aid = app_id()
    with State(aid) as s:
        s.apply(one_service_app(aid, s.eng.local_image))
        cid = running(s, "one")["Id"]
        lock = user_lock(s.ad, aid, "one")
        path = "/v2/applications/%s/stop-service" % aid
        got = call_json(s.ad, "POST", path, {"serviceName": "one"}, expect=423)
        assert got == {"status": "failed",
                       "message": "Lockfile exists for { appId: %s, service: one }" % aid}, got
        assert running(s, "one")["Id"] == cid, "stopped in spite of the lock"
        assert os.path.exists(lock)
        assert call(s.ad, "POST", path, {"serviceName": "one", "force": True}) == (200, "OK")
        c = s.containers()["one"]
        assert len(c) == 1 and c[0]["Id"] == cid and not c[0]["State"]["Running"], c
        assert not os.path.exists(lock), "force left the application's lock"
        # agentd released its own lock too
        assert not os.path.exists(os.path.join(os.path.dirname(lock), "resin-updates.lock"))


def test_every_lock_taking_route_answers_423_under_a_user_lock():
    aid = app_id()
    with State(aid) as s:
        s.apply(one_service_app(aid, s.eng.local_image))
        cid = running(s, "one")["Id"]
        lock = user_lock(s.ad, aid, "one")
        with open(s.ad.config_path) as f:
            config_before = f.read()
        for method, path, body in (
                ("POST", "/v1/restart", {"appId": int(aid)}),
                ("POST", "/v1/purge", {"appId": int(aid)}),
                ("POST", "/v1/apps/%s/stop" % aid, {}),
                ("POST", "/v2/applications/%s/restart" % aid, {}),
                ("POST", "/v2/applications/%s/purge" % aid, {}),
                ("POST", "/v2/applications/%s/restart-service" % aid, {"serviceName": "one"}),
                ("POST", "/v2/applications/%s/stop-service" % aid, {"serviceName": "one"}),
                ("PATCH", "/v1/device/host-config", {"network": {"hostname": "locked"}})):
            st, text = call(s.ad, method, path, body)
            assert st == 423 and "Lockfile exists for { appId: %s, service: one }" % aid in text, \
                (method, path, st, text)
        c = s.containers()["one"]
        assert len(c) == 1 and c[0]["Id"] == cid and c[0]["State"]["Running"], \
            "changed in spite of the lock"
        with open(s.ad.config_path) as f:
            assert f.read() == config_before, "host-config changed in spite of the lock"
        assert os.path.exists(lock)
        # force goes ahead, and agentd's own lock files go away afterwards
        st, text = call(s.ad, "PATCH", "/v1/device/host-config",
                        {"network": {"hostname": "forced"}, "force": True})
        assert (st, text) == (200, "OK"), (st, text)
        with open(s.ad.config_path) as f:
            assert json.load(f)["hostname"] == "forced"
        assert not os.path.exists(os.path.join(os.path.dirname(lock), "resin-updates.lock")), \
            "host-config kept agentd's lock"

def test_start_and_restart_service_by_name_and_image_id():
    aid = app_id()
    with State(aid) as s:
        t = one_service_app(aid, s.eng.local_image)
        s.apply(t)
        cid = running(s, "one")["Id"]
        base = "/v2/applications/%s/" % aid
        assert call(s.ad, "POST", base + "stop-service", {"imageId": 11}) == (200, "OK")
        lib.wait_until(lambda: not s.containers()["one"][0]["State"]["Running"], 10,
                       what="stopped")
        # start takes no lock: the application's lock does not stop it
        user_lock(s.ad, aid, "one")
        assert call(s.ad, "POST", base + "start-service", {"serviceName": "one"}) == (200, "OK")
        c = lib.wait_until(lambda: running(s, "one"), 10, what="started again")
        assert c["Id"] == cid
        os.unlink(os.path.join(s.ad.rundir, "services", aid, "one", "updates.lock"))
        name = c["Name"]
        assert call(s.ad, "POST", base + "restart-service", {"imageId": "11"}) == (200, "OK")
        new = wait_replaced(s, "one", cid)
        assert new["Name"] == name, (new["Name"], name)
        s.wait_applied(t)


def test_service_actions_reject_unknown_apps_and_missing_service():
    aid = app_id()
    with State(aid) as s:
        s.apply(one_service_app(aid, s.eng.local_image))
        for action in ("stop-service", "start-service", "restart-service"):
            st, text = call(s.ad, "POST", "/v2/applications/%s/%s" % (aid, action), {})
            assert st == 400 and "serviceName or imageId" in text, (action, st, text)
            st, text = call(s.ad, "POST", "/v2/applications/999999999999/%s" % action,
                            {"serviceName": "one"})
            assert st == 404 and text.startswith("App not found"), (action, st, text)
            st, text = call(s.ad, "POST", "/v2/applications/%s/%s" % (aid, action),
                            {"serviceName": "nope"})
            assert st == 404 and text.startswith("Service not found"), (action, st, text)
        assert running(s, "one") is not None


def test_v1_app_stop_start_and_get_for_a_single_container_app():
    aid = app_id()
    with State(aid) as s:
        s.apply(one_service_app(aid, s.eng.local_image))
        cid = running(s, "one")["Id"]
        got = call_json(s.ad, "GET", "/v1/apps/%s" % aid)
        env = got.pop("env", None)
        assert got == {"appId": int(aid), "commit": "c1", "containerId": cid,
                       "imageId": s.eng.local_image, "releaseId": 1}, got
        assert isinstance(env, dict) and env.get("A") == "1", env
        assert call_json(s.ad, "POST", "/v1/apps/%s/stop" % aid, {}) == {"containerId": cid}
        assert not s.containers()["one"][0]["State"]["Running"]
        assert call_json(s.ad, "POST", "/v1/apps/%s/start" % aid, {}) == {"containerId": cid}
        lib.wait_until(lambda: running(s, "one"), 10, what="started again")
        body = call_json(s.ad, "GET", "/v1/apps/999999999999", expect=400)
        assert body["message"] == "App not found", body


def test_v1_app_get_reports_the_container_environment_without_api_keys():
    # balena (facts 1.3, src/compose/service.ts fromDockerContainer): env is
    # the container's environment minus BALENA_/RESIN_SUPERVISOR_API_KEY and
    # BALENA_/RESIN_API_KEY
    aid = app_id()
    with State(aid) as s:
        s.apply(one_service_app(aid, s.eng.local_image,
                                labels={"io.balena.features.supervisor-api": "1"}))
        cenv = dict(e.split("=", 1) for e in running(s, "one")["Config"]["Env"])
        assert "BALENA_SUPERVISOR_API_KEY" in cenv, cenv  # the label gave it a key
        env = call_json(s.ad, "GET", "/v1/apps/%s" % aid)["env"]
        private = ("BALENA_SUPERVISOR_API_KEY", "RESIN_SUPERVISOR_API_KEY", "BALENA_API_KEY",
                   "RESIN_API_KEY")
        for k in private:
            assert k not in env, ("a private key is exposed", k)
        # balena reads the service back from the container without the
        # *_DEVICE_NAME_AT_INIT variables set at creation
        skip = private + ("BALENA_DEVICE_NAME_AT_INIT", "RESIN_DEVICE_NAME_AT_INIT")
        want = {k: v for k, v in cenv.items() if k not in skip}
        assert env.get("A") == "1" and env.get("BALENA_APP_ID") == aid and \
            env.get("BALENA_SERVICE_NAME") == "one", env
        assert env == want, {"missing": sorted(set(want) - set(env)),
                             "extra": sorted(set(env) - set(want))}


# --------------------------------------------------------------------------- app state, ids


def test_container_ids_app_state_and_device_of_an_applied_app():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        t = target(aid, "c1", 1, [service(1, "one", img, 11), service(2, "two", img, 12)])
        s.apply(t)
        ids = {n: running(s, n)["Id"] for n in ("one", "two")}
        assert call_json(s.ad, "GET", "/v2/containerId") == \
            {"status": "success", "services": ids}
        assert call_json(s.ad, "GET", "/v2/containerId?serviceName=one") == \
            {"status": "success", "containerId": ids["one"]}
        assert call_json(s.ad, "GET", "/v2/containerId?service=two") == \
            {"status": "success", "containerId": ids["two"]}
        assert call_json(s.ad, "GET", "/v2/containerId?serviceName=nope", expect=503) == \
            {"status": "failed", "message": "Could not find service with that name"}
        st = call_json(s.ad, "GET", "/v2/applications/%s/state" % aid)
        svc = {"status": "Running", "releaseId": 1, "download_progress": None}
        assert st == {"commit": "c1", "local": {aid: {"services": {"11": svc, "12": svc}}}}, st
        assert call_json(s.ad, "GET", "/v2/applications/999999999999/state", expect=409) == \
            {"status": "failed", "message": "Application ID does not exist: 999999999999"}
        assert call_json(s.ad, "GET", "/v2/applications/x/state", expect=400)["status"] == \
            "failed"
        status = call_json(s.ad, "GET", "/v2/state/status")
        assert status["status"] == "success" and status["appState"] == "applied", status
        assert {c["serviceName"]: c["containerId"] for c in status["containers"]} == ids
        apps = call_json(s.ad, "GET", "/v2/applications/state")
        assert apps["app" + aid]["appId"] == int(aid), apps
        assert apps["app" + aid]["services"]["two"]["status"] == "Running", apps
        body = call_json(s.ad, "GET", "/v1/apps/%s" % aid, expect=400)
        assert body["message"] == "Some v1 endpoints are only allowed on single-container apps"
        d = call_json(s.ad, "GET", "/v1/device")
        assert d["commit"] == "c1" and d["status"] == "Idle" and d["update_pending"] is False, d


# --------------------------------------------------------------------------- restart, purge


def volume_app(aid, img):
    t = one_service_app(aid, img, volumes=["data:/data"])
    t["local"]["apps"][aid]["volumes"] = {"data": {}}
    return t


MARKER = "test -e /data/marker && echo yes || echo no"


def test_app_restart_recreates_containers_and_keeps_volumes():
    aid = app_id()
    with State(aid) as s:
        t = volume_app(aid, s.eng.local_image)
        s.apply(t)
        cid = running(s, "one")["Id"]
        exec_sh(s, cid, "echo x > /data/marker")
        assert exec_sh(s, cid, MARKER) == "yes"
        got = call(s.ad, "POST", "/v2/applications/%s/restart" % aid, {})
        assert got == (200, "OK"), got
        cid = wait_replaced(s, "one", cid)["Id"]
        assert exec_sh(s, cid, MARKER) == "yes", "restart lost the volume's data"
        got = call(s.ad, "POST", "/v1/restart", {"appId": aid})
        assert got == (200, "OK"), got
        cid = wait_replaced(s, "one", cid)["Id"]
        assert exec_sh(s, cid, MARKER) == "yes", "/v1/restart lost the volume's data"
        # a form body works as well as JSON (balena parses both)
        got = call(s.ad, "POST", "/v1/restart", "appId=%s" % aid,
                   {"Content-Type": "application/x-www-form-urlencoded"})
        assert got == (200, "OK"), ("form body", got)
        cid = wait_replaced(s, "one", cid)["Id"]
        s.wait_applied(t)
        body = call_json(s.ad, "POST", "/v1/restart", {}, expect=400)
        assert body == {"status": "failed", "message": "Missing app id"}, body
        assert call(s.ad, "POST", "/v1/purge", {"appId": "x"}) == \
            (400, "Invalid or missing appId")
        assert running(s, "one")["Id"] == cid  # the refused calls changed nothing


def test_app_purge_recreates_containers_with_empty_volumes():
    aid = app_id()
    with State(aid) as s:
        t = volume_app(aid, s.eng.local_image)
        s.apply(t)
        cid = running(s, "one")["Id"]
        exec_sh(s, cid, "echo x > /data/marker")
        got = call(s.ad, "POST", "/v2/applications/%s/purge" % aid, {})
        assert got == (200, "OK"), got
        cid = wait_replaced(s, "one", cid)["Id"]
        assert exec_sh(s, cid, MARKER) == "no", "purge kept the volume's data"
        s.wait_applied(t)
        exec_sh(s, cid, "echo x > /data/marker")
        assert call_json(s.ad, "POST", "/v1/purge", {"appId": int(aid)}) == \
            {"Data": "OK", "Error": ""}
        cid = wait_replaced(s, "one", cid)["Id"]
        assert exec_sh(s, cid, MARKER) == "no", "/v1/purge kept the volume's data"
        s.wait_applied(t)


# --------------------------------------------------------------------------- volumes


def test_cleanup_volumes_removes_only_unused_volumes_not_in_the_target():
    aid = app_id()
    eng = engine()
    strays = [unique("agentd-stray"), unique("agentd-stray")]
    try:
        with State(aid) as s:
            t = one_service_app(aid, s.eng.local_image, volumes=["data:/data"])
            t["local"]["apps"][aid]["volumes"] = {"data": {}, "spare": {}}
            s.apply(t)
            vols = set(eng.docker("volume", "ls", "-q").split())
            assert {"%s_data" % aid, "%s_spare" % aid} <= vols, vols
            for method, stray in zip(("GET", "POST"), strays):
                eng.docker("volume", "create", stray)
                assert call_json(s.ad, method, "/v2/cleanup-volumes", None if method == "GET"
                                 else {}) == {"status": "success"}
                vols = set(eng.docker("volume", "ls", "-q").split())
                assert stray not in vols, (method, "stray volume survived", vols)
                assert "%s_data" % aid in vols, (method, "the mounted volume went", vols)
                assert "%s_spare" % aid in vols, (method, "the target's volume went", vols)
            assert running(s, "one") is not None
    finally:
        for v in strays:
            eng.docker("volume", "rm", "-f", v, check=False)


# --------------------------------------------------------------------------- logs


class LogStream:
    """GET /v2/local/logs read line by line in a thread."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * lib.SCALE)
        self.conn.connect()
        self.sock = self.conn.sock  # kept: shut down to stop the reader
        self.conn.request("GET", "/v2/local/logs")
        self.resp = self.conn.getresponse()
        self.lines = []
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                self.lines.append(line.decode("utf-8", "replace"))
        except Exception as e:  # noqa: BLE001 - the reader reports, the test judges
            self.error = e

    def objects(self):
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"unparsable": line})
        return out

    def find(self, pred):
        return [o for o in self.objects() if pred(o)]

    def wait(self, pred, what, timeout=30):
        return lib.wait_until(lambda: self.find(pred), timeout, interval=0.05,
                              what="%s in the log stream (got %d lines: %s)"
                                   % (what, len(self.lines), self.lines[-5:]))[0]

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the reader up
        except OSError:
            pass
        self.thread.join(5 * lib.SCALE)
        self.resp.close()
        self.conn.close()


def test_local_logs_stream_container_output_and_system_messages():
    aid = app_id()
    with State(aid) as s:
        stream = LogStream(s.ad.port)
        try:
            r = stream.resp
            assert r.status == 200, r.status
            assert r.getheader("Transfer-Encoding", "").lower() == "chunked", r.getheaders()
            assert r.getheader("Content-Type", "").startswith("application/x-ndjson")
            first = stream.wait(lambda o: True, "the first line")
            assert stream.objects()[0] == {"message": "Streaming logs", "isSystem": True}, \
                first
            tok = unique("tok")
            script = ("trap 'exit 0' TERM; while :; do echo out-%s; echo err-%s >&2; "
                      "sleep 0.2; done" % (tok, tok))
            s.apply(target(aid, "c1", 1, [service(1, "one", s.eng.local_image, 11,
                                                  command=["sh", "-c", script], tty=False)]))
            out = stream.wait(lambda o: o.get("message", "").strip() == "out-" + tok,
                              "the container's stdout line")
            assert out["serviceName"] == "one" and out.get("serviceId") == 1, out
            assert "isStdErr" not in out and "isSystem" not in out, out
            assert isinstance(out["timestamp"], int) and out["timestamp"] > 1e12, out
            err = stream.wait(lambda o: o.get("message", "").strip() == "err-" + tok,
                              "the container's stderr line")
            assert err["serviceName"] == "one" and err.get("isStdErr") is True, err
            sysmsg = stream.wait(lambda o: o.get("isSystem") is True and
                                 o.get("message") != "Streaming logs", "a system message")
            assert "serviceName" not in sysmsg and sysmsg["message"], sysmsg
            assert not stream.find(lambda o: "unparsable" in o), stream.lines
            assert stream.error is None, stream.error
        finally:
            stream.close()
        # apid forgot the client: the API still answers
        assert call(s.ad, "GET", "/ping") == (200, "OK")


def test_local_logs_serve_several_clients_and_survive_disconnects():
    aid = app_id()
    with State(aid) as s:
        tok = unique("tok")
        script = ("trap 'exit 0' TERM; i=0; while :; do i=$((i+1)); echo %s-$i; sleep 0.1; done"
                  % tok)
        s.apply(target(aid, "c1", 1, [service(1, "one", s.eng.local_image, 11,
                                              command=["sh", "-c", script], tty=False)]))
        mine = lambda o: o.get("message", "").startswith(tok + "-")  # noqa: E731
        a, b = LogStream(s.ad.port), LogStream(s.ad.port)
        try:
            a.wait(mine, "a line for the first client")
            b.wait(mine, "a line for the second client")
            a.close()
            seen = len(b.find(mine))
            lib.wait_until(lambda: len(b.find(mine)) >= seen + 5, 10,
                           what="the second client to keep receiving after the first left")
            numbers = [int(o["message"].strip().rsplit("-", 1)[1]) for o in b.find(mine)]
            assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers), numbers
        finally:
            a.close()
            b.close()
        c = LogStream(s.ad.port)  # everyone left; a newcomer gets lines again
        try:
            c.wait(mine, "a line for a client that came after all others left")
        finally:
            c.close()
        assert call(s.ad, "GET", "/ping") == (200, "OK")

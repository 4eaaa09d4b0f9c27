"""fake_cloud.py - a balena device API on 127.0.0.1 over HTTPS, for tests.

It is the one test double the project allows (the balena cloud cannot run
here), so it is strict: it checks the Authorization header, the
User-Agent, and the bodies agentd sends, and records every request. A test
CA and a server certificate for 127.0.0.1 are made with the openssl CLI.

    with FakeCloud() as cloud:
        cloud.url, cloud.ca_b64          # apiEndpoint and balenaRootCA
        cloud.target = {...}             # what GET /device/v3/<uuid>/state serves
        cloud.requests                   # [(method, path, headers, body)]
        cloud.errors                     # what it found wrong with requests

It is also the registry-token endpoint (/auth/v1/token) and, as the
config.json `deltaEndpoint` of a test, the delta server (/api/v3/delta):
`delta_answers` is a list of (status, body) it answers in turn (then
`delta_default`); a body "hang" answers nothing for 30 s.
"""
import base64
import gzip
import hashlib
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import urllib.parse
import time

PROVISIONING_KEY = "provkey0123456789abcdef"
DEVICE_ID = 42


def make_certs(d, names=()):
    """A test CA and a certificate for 127.0.0.1 (and the DNS `names`)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=agentd test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1%s\n" % "".join(",DNS:" + n for n in names))
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")


class FakeCloud:
    def __init__(self, conflict=False, cert_names=()):
        self.cert_names = tuple(cert_names)  # host names its certificate also names
        self.conflict = conflict       # /device/register answers 409 (uuid exists)
        self.register_refusal = None   # (status, text body): /device/register refuses
        self.target = None             # served as the device's v3 state
        self.requests = []
        self.errors = []
        self.device_keys = set()       # device API keys the cloud knows
        self.logs = []                 # lines received on the log stream
        self.fault = None              # the state endpoint misbehaves: see route()
        self.tags = {}                 # the device's tags, as the cloud has them
        self.config_vars = {}          # device config variables: name -> value
        self.device_name = None        # set by PATCH /v7/device(<id>)
        self.releases = {}             # (app id, commit) -> release id, for pinning
        self.pinned = None             # release id of PATCH is_pinned_on__release
        self.delta_answers = []        # (status, body) for /api/v3/delta, in turn
        self.delta_default = (404, {"message": "no delta"})
        self.token_answers = []        # (status, body) for /auth/v1/token, in turn
        self.tokens = set()            # registry tokens it gave out
        self.deltas_asked = []         # (src, dest) of each /api/v3/delta
        self.lock = threading.Lock()

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="agentd-cloud.")
        make_certs(self.dir, self.cert_names)
        with open(os.path.join(self.dir, "ca.pem"), "rb") as f:
            self.ca_b64 = base64.b64encode(f.read()).decode()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.dir, "srv.pem"), os.path.join(self.dir, "srv.key"))
        cloud = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=None, headers=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if status != 304:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(data)

            def reply_text(self, status, text):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def handle_any(self):
                if self.command == "POST" and self.path.endswith("/log-stream"):
                    return cloud.log_stream(self)
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                sizes = {"in": len(self.raw_requestline) + len(str(self.headers)) + len(raw),
                         "out": 0}
                real = self.wfile

                class Counting:
                    def write(self, data):
                        sizes["out"] += len(data)
                        return real.write(data)

                    def flush(self):
                        return real.flush()

                    def close(self):
                        return real.close()

                    @property
                    def closed(self):
                        return real.closed
                self.wfile = Counting()
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                body = json.loads(raw) if raw else None
                with cloud.lock:
                    cloud.requests.append((self.command, self.path, dict(self.headers), body,
                                           time.monotonic(), sizes))
                ua = self.headers.get("User-Agent", "")
                if not ua.startswith("Supervisor/"):
                    cloud.errors.append("bad User-Agent %r on %s" % (ua, self.path))
                auth = self.headers.get("Authorization", "")
                key = auth[7:] if auth.startswith("Bearer ") else None
                try:
                    cloud.route(self, self.command, self.path, key, body)
                finally:
                    self.wfile = real

            do_GET = do_POST = do_PATCH = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        # a device hanging up on a slow answer is expected in fault tests
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def log_stream(self, h):
        """Read a chunked, gzip'd NDJSON body as it comes; never answer."""
        import zlib
        auth = h.headers.get("Authorization", "")
        if auth[7:] not in self.device_keys:
            self.errors.append("log stream with an unknown key")
        if h.headers.get("Content-Encoding") != "gzip":
            self.errors.append("log stream not gzip'd")
        if "chunked" not in h.headers.get("Transfer-Encoding", ""):
            self.errors.append("log stream not chunked")
        z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = b""
        try:
            while True:
                size_line = h.rfile.readline()
                if not size_line:
                    return
                size = int(size_line.strip().split(b";")[0], 16)
                if size == 0:
                    h.rfile.readline()
                    h.reply(200, {})
                    return
                chunk = h.rfile.read(size)
                h.rfile.readline()
                pending += z.decompress(chunk)
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    with self.lock:
                        self.logs.append(json.loads(line))
        except (OSError, ValueError, zlib.error) as e:
            self.errors.append("log stream: %s" % e)

    def registry_token(self, h, path):
        """GET /auth/v1/token: basic auth d_<uuid>:<device key>, one service,
        a pull scope for each repository."""
        auth = h.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user = password = ""
        if not auth.startswith("Basic ") or user != "d_%s" % self.uuid or \
                password not in self.device_keys:
            self.errors.append("registry token asked with bad credentials %r" % auth)
            return h.reply(401, {"message": "Unauthorized"})
        q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
        scopes = q.get("scope", [])
        if len(q.get("service", [])) != 1 or len(scopes) != 2 or \
                not all(sc.startswith("repository:") and sc.endswith(":pull") for sc in scopes):
            self.errors.append("registry token asked with bad query %r" % path)
        with self.lock:
            answer = self.token_answers.pop(0) if self.token_answers else None
        if answer is not None:
            return h.reply(*answer)
        token = "tok-%d" % len(self.tokens)
        self.tokens.add(token)
        return h.reply(200, {"token": token})

    def delta(self, h, path):
        """GET /api/v3/delta?src=&dest=, with a token this cloud gave out."""
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            self.errors.append("delta asked without a registry token: %r" % auth)
        query = path.split("?", 1)[1] if "?" in path else ""
        parts = dict(p.partition("=")[::2] for p in query.split("&"))
        if set(parts) != {"src", "dest"} or "%" in query:
            self.errors.append("delta query is not src=&dest=, unencoded: %r" % query)
        with self.lock:
            self.deltas_asked.append((parts.get("src"), parts.get("dest")))
            answer = self.delta_answers.pop(0) if self.delta_answers else self.delta_default
        if answer[1] == "hang":
            time.sleep(30)
            return None
        if isinstance(answer[1], str):
            return h.reply_text(*answer)
        return h.reply(*answer)

    def route(self, h, method, path, key, body):
        if method == "GET" and path.startswith("/auth/v1/token?"):
            return self.registry_token(h, path)
        if method == "GET" and path.startswith("/api/v3/delta?"):
            return self.delta(h, path)
        if method == "POST" and path == "/device/register":
            if key != PROVISIONING_KEY:
                self.errors.append("register without the provisioning key")
                return h.reply(401)
            for f in ("application", "uuid", "device_type", "api_key", "supervisor_version",
                      "os_version", "os_variant"):
                if f not in (body or {}):
                    self.errors.append("register body lacks %s" % f)
            if len((body or {}).get("api_key", "")) != 32:
                self.errors.append("api_key is not 32 hex characters")
            self.uuid = body.get("uuid")
            if self.register_refusal is not None:
                return h.reply_text(*self.register_refusal)
            if self.conflict:
                return h.reply(409, {"message": "uuid exists"})
            self.device_keys.add(body.get("api_key"))
            return h.reply(201, {"id": DEVICE_ID, "uuid": body.get("uuid")})
        if method == "GET" and path.startswith("/v7/device?"):
            if key in self.device_keys or key == PROVISIONING_KEY:
                return h.reply(200, {"d": [{"id": DEVICE_ID}]} if key == PROVISIONING_KEY
                               else {"d": [{"id": DEVICE_ID}]})
            return h.reply(401)
        if method == "POST" and path == "/api-key/device/%d/device-key" % DEVICE_ID:
            if key != PROVISIONING_KEY:
                self.errors.append("key exchange without the provisioning key")
                return h.reply(401)
            self.device_keys.add((body or {}).get("apiKey"))
            return h.reply(200, {})
        if method == "GET" and path.startswith("/device/v3/") and path.endswith("/state"):
            if key not in self.device_keys:
                self.errors.append("state poll with an unknown key")
                return h.reply(401)
            if self.fault == "slow":
                time.sleep(4)  # longer than the device's request timeout
                return h.reply(500, {"message": "too late"})
            if self.fault == "drip":
                data = json.dumps(self.target).encode()
                h.send_response(200)
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                try:
                    for i in range(0, len(data), 8):  # a few bytes at a time, slowly
                        h.wfile.write(data[i:i + 8])
                        h.wfile.flush()
                        time.sleep(0.25)
                except OSError:
                    pass  # the device gave up, as it should
                return None
            if self.fault == "500":
                return h.reply(500, {"message": "injected"})
            if self.fault == "reset":
                h.close_connection = True
                h.connection.close()
                return None
            if self.fault == "invalid_json":
                data = b"{this is not json"
                h.send_response(200)
                h.send_header("Content-Length", str(len(data)))
                h.send_header("ETag", '"broken"')
                h.end_headers()
                h.wfile.write(data)
                return None
            if self.fault == "truncated":
                data = json.dumps(self.target).encode()
                h.send_response(200)
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data[: len(data) // 2])
                h.close_connection = True
                h.connection.close()
                return None
            if self.target is None:
                return h.reply(404)
            text = json.dumps(self.target, sort_keys=True)
            etag = '"%s"' % hashlib.sha1(text.encode()).hexdigest()
            if h.headers.get("If-None-Match") == etag:
                return h.reply(304, headers={"ETag": etag})
            return h.reply(200, self.target, {"ETag": etag})
        if method == "PATCH" and path == "/device/v3/tags":
            if key not in self.device_keys:
                self.errors.append("tags with an unknown key")
                return h.reply(401)
            for k, v in ((body or {}).get(getattr(self, "uuid", ""), {}) or {}).items():
                self.tags[k] = v
            return h.reply(200, {})
        if method == "GET" and path.startswith("/v7/device_tag?"):
            if key not in self.device_keys:
                return h.reply(401)
            return h.reply(200, {"d": [{"id": i + 1, "tag_key": k, "value": v}
                                       for i, (k, v) in enumerate(sorted(self.tags.items()))]})
        if method == "POST" and path == "/v7/device_config_variable":
            if key not in self.device_keys:
                self.errors.append("config variable with an unknown key")
                return h.reply(401)
            b = body or {}
            if b.get("device") != DEVICE_ID or not isinstance(b.get("value"), str) or \
                    not str(b.get("name", "")).startswith("RESIN_"):
                self.errors.append("bad config variable body %r" % (b,))
                return h.reply(400)
            if b["name"] in self.config_vars:
                return h.reply(409, {"message": "unique constraint"})
            self.config_vars[b["name"]] = b["value"]
            return h.reply(201, {"id": len(self.config_vars)})
        if method == "GET" and path.startswith("/v7/release?"):
            if key not in self.device_keys:
                self.errors.append("release lookup with an unknown key")
                return h.reply(401)
            q = urllib.parse.unquote(path)
            found = [rid for (app, commit), rid in self.releases.items()
                     if "belongs_to__application eq %d " % app in q
                     and "commit eq '%s'" % commit in q and "status eq 'success'" in q]
            return h.reply(200, {"d": [{"id": rid} for rid in found]})
        if method == "PATCH" and path == "/v7/device(%d)" % DEVICE_ID:
            if key not in self.device_keys:
                self.errors.append("device PATCH with an unknown key")
                return h.reply(401)
            b = body or {}
            if set(b) == {"device_name"} and isinstance(b["device_name"], str):
                self.device_name = b["device_name"]
            elif set(b) == {"is_pinned_on__release"} and \
                    isinstance(b["is_pinned_on__release"], int):
                self.pinned = b["is_pinned_on__release"]
            else:
                self.errors.append("bad device PATCH body %r" % (b,))
                return h.reply(400)
            return h.reply(200, "OK")
        if method == "PATCH" and path == "/device/v3/state":
            if key not in self.device_keys:
                self.errors.append("report with an unknown key")
                return h.reply(401)
            # As the real API: a release_uuid of null is a 400, an app reported
            # with an empty release ("" as release_uuid or as a key of
            # releases) a 401, every time.
            for uuid, dev in (body or {}).items():
                for app_uuid, app in ((dev or {}).get("apps") or {}).items():
                    if "release_uuid" in app and app["release_uuid"] is None:
                        self.errors.append("report of app %s with release_uuid null" % app_uuid)
                        return h.reply(400, {"message": "release_uuid must be a string"})
                    if app.get("release_uuid") == "" or "" in (app.get("releases") or {}):
                        self.errors.append("report of app %s with an empty release" % app_uuid)
                        return h.reply(401, "Unauthorized")
            return h.reply(200, {})
        self.errors.append("unexpected %s %s" % (method, path))
        return h.reply(404)

    def find(self, method, prefix):
        with self.lock:
            return [r for r in self.requests if r[0] == method and r[1].startswith(prefix)]

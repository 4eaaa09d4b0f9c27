#!/usr/bin/env python3
"""mkcorpus_dispatch.py - writes the seed inputs of fuzz_dispatch.c into
test/fuzz/corpus/dispatch/: what each fake child plausibly sends (the local
API's target, the engine coming up with answers to agentd's first requests,
engine events, a cloud target, log lines), plus a few refusals (JSON nested
too deep, a message from the wrong child). Message type numbers are read from
common/proto.h. Run it again when the record format or the catalogue changes.

A record: [child + 3 * kind][type][request id][length, 2 bytes little endian]
[payload]; child 0 enginectl, 1 apid, 2 cloudsyncd; kind 0 message, 1 reply,
2 stderr line, 3 raw bytes."""
import json
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "fuzz", "corpus", "dispatch")
ENGINECTL, APID, CLOUDSYNCD = 0, 1, 2
MESSAGE, REPLY, STDERR, RAW = 0, 1, 2, 3
UUID = "0123456789abcdef0123456789abcdef"  # fuzz_dispatch.c's config.json


def msg_types():
    with open(os.path.join(ROOT, "common", "proto.h")) as f:
        text = f.read()
    body = text[text.index("enum msg_type {"):text.index("MSG_TYPE_COUNT")]
    names = re.findall(r"^\s*(MSG_[A-Z_]+)\s*,", body, re.M)
    return {n: i for i, n in enumerate(names)}


T = msg_types()


def record(child, kind, payload, type_name="MSG_NONE", req_id=0):
    if not isinstance(payload, bytes):
        payload = json.dumps(payload, separators=(",", ":")).encode()
    return struct.pack("<BBBH", child + 3 * kind, T[type_name], req_id, len(payload)) + payload


def api(route, body=None, query=None, params=None):
    return record(APID, MESSAGE, {"route": route, "params": params or {}, "query": query or {},
                                  "body": body, "scope": {"apps": "all"}}, "MSG_API_CALL")


def target_v2():
    return {"local": {"name": "fuzz", "config": {"SUPERVISOR_POLL_INTERVAL": "600000"},
                      "apps": {"1": {"name": "app", "commit": "c1", "releaseId": 2,
                                     "services": {"1": {"serviceName": "main", "imageId": 3,
                                                        "image": "busybox:latest",
                                                        "environment": {"A": "b"},
                                                        "labels": {"l": "v"},
                                                        "restart": "always",
                                                        "networks": {"default": {
                                                            "aliases": ["m"]}}}},
                                     "volumes": {"data": {}},
                                     "networks": {"default": {}}}}}}


def engine_up():
    out = record(ENGINECTL, MESSAGE, {"connected": True, "api_version": "1.41",
                                      "engine_version": "20.10.24"}, "MSG_ENGINE_STATE")
    for i in range(1, 9):  # answers to agentd's first engine calls
        out += record(ENGINECTL, REPLY, {"status": 200, "body": []}, "MSG_ENGINE_RESULT", i)
    return out


def deep(n):
    text = "[" * n + "]" * n
    return ('{"route":"device.v1","params":{},"query":{},"body":%s}' % text).encode()


SEEDS = {
    "target": api("local.target.set", target_v2()) + engine_up(),
    "engine": engine_up() + record(ENGINECTL, MESSAGE, {
        "type": "container", "action": "die", "id": "abc", "time_ms": 1,
        "attributes": {"io.balena.app-id": "1", "io.balena.service-name": "main"}},
        "MSG_ENGINE_EVENT") + record(ENGINECTL, MESSAGE, {
            "container": "abc", "stream": "stdout", "timestamp": 1, "message": "hi"},
            "MSG_ENGINE_LOG"),
    "cloud": record(CLOUDSYNCD, MESSAGE, {"target": {UUID: {
        "name": "d", "config": {"HOST_FIREWALL_MODE": "on"}, "apps": {}}}, "etag": "e"},
        "MSG_CLOUD_TARGET") + record(CLOUDSYNCD, MESSAGE, {"sent": {UUID: {}}},
                                     "MSG_CLOUD_REPORTED"),
    "api": b"".join([api("device.v1"), api("v1.reboot", {"force": True}),
                     api("journal-logs", {"count": 3}), api("v1.blink"),
                     api("device.host-config.patch", {"network": {"hostname": "x"}}),
                     api("device.tags.patch", {"tags": []}), api("v1.regenerate-api-key"),
                     api("state.status"), api("local.target.get"), api("metrics"),
                     record(APID, MESSAGE, {"want": True}, "MSG_LOG_WANT")]),
    "stderr": record(ENGINECTL, STDERR, b"I hello\nW careful\nE broken\nno tag\n"),
    "refused": b"".join([record(APID, MESSAGE, deep(40), "MSG_API_CALL"),
                         record(ENGINECTL, MESSAGE, {"route": "x"}, "MSG_API_CALL"),
                         record(CLOUDSYNCD, RAW, b"\xff" * 16)]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()

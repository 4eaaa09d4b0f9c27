#!/usr/bin/env python3
"""sync.py - `make sync DEVICE=<address>`: the developer loop on a device.

For a development device whose engine listens on TCP (balenaOS development
images: port 2375): read the device's architecture from its engine, build
the supervisor image for it (`make image ARCH=...`), load it into the
device's engine, replace the `balena_supervisor` container with one of the
new image, made as the one it replaces was made (its configuration, mounts,
environment, network and restart policy, as balenaOS's start script set them
up; a device without one gets the start script's own flags), and follow its
log until ^C.

    python3 image/sync.py DEVICE [--no-follow]

DEVICE is host or host:port (2375 when no port is given).
"""
import argparse
import json
import os
import signal
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "balena_supervisor"
# the engine's Architecture -> `make ARCH=`
ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
          "armv7l": "armhf", "armhf": "armhf", "i686": "i386", "i386": "i386",
          "armv6l": "rpi"}


def die(msg):
    print("sync: " + msg, file=sys.stderr)
    sys.exit(1)


class Device:
    def __init__(self, address):
        self.host = "tcp://%s" % (address if ":" in address else address + ":2375")

    def docker(self, *args, check=True, capture=True, timeout=300):
        env = dict(os.environ, DOCKER_HOST=self.host)
        env.pop("DOCKER_CONTEXT", None)
        p = subprocess.run(["docker", *args], env=env, capture_output=capture, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            die("docker %s: %s" % (" ".join(args[:2]), (p.stderr or "").strip()))
        return (p.stdout or "").strip()


def host_arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True).stdout.strip() or "amd64"


def build(arch):
    """`make image` for arch; the archive's path."""
    args = ["make", "-C", REPO, "--no-print-directory"]
    if arch != host_arch():
        args.append("ARCH=" + arch)
    if subprocess.run(args + ["image"]).returncode != 0:
        die("make image failed")
    out = subprocess.run(args + ["-s", "image-path"], capture_output=True, text=True)
    path = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if not os.path.isabs(path):
        path = os.path.join(REPO, path)
    if out.returncode != 0 or not os.path.exists(path):
        die("no image archive after make image (%s)" % path)
    return path


def start_script_body(tag):
    """What balenaOS's start-balena-supervisor runs, for a device that has no
    supervisor container yet (the default paths of balenaOS)."""
    mounts = [("/var/run/balena-engine.sock", "/var/run/balena-engine.sock"),
              ("/mnt/data/resin-data/balena-supervisor", "/data"),
              ("/var/log/supervisor-log", "/var/log"), ("/", "/mnt/root")]
    return {"Image": tag,
            "Env": ["DOCKER_SOCKET=/var/run/balena-engine.sock", "BOOT_MOUNTPOINT=/mnt/boot",
                    "LED_FILE=/dev/null", "LISTEN_PORT=48484",
                    "SUPERVISOR_IMAGE=" + tag.rsplit(":", 1)[0]],
            "HostConfig": {"NetworkMode": "host", "Privileged": True,
                           "RestartPolicy": {"Name": "always"},
                           "Mounts": [{"Type": "bind", "Source": s, "Target": t}
                                      for s, t in mounts]}}


def same_as(inspect, tag):
    """A create body that makes the container `inspect` describes again, on `tag`."""
    cfg = dict(inspect["Config"])
    for k in ("Hostname", "Domainname", "Image"):
        cfg.pop(k, None)
    cfg["Image"] = tag
    env = [e for e in cfg.get("Env") or [] if not e.startswith("SUPERVISOR_IMAGE=")]
    cfg["Env"] = env + ["SUPERVISOR_IMAGE=" + tag.rsplit(":", 1)[0]]
    # the image's own labels and healthcheck come from the new image
    cfg.pop("Labels", None)
    cfg.pop("Healthcheck", None)
    hc = dict(inspect["HostConfig"])
    cfg["HostConfig"] = hc
    mode = hc.get("NetworkMode", "")
    nets = inspect.get("NetworkSettings", {}).get("Networks") or {}
    if mode not in ("host", "none") and mode in nets:
        cfg["NetworkingConfig"] = {"EndpointsConfig": {mode: {
            "Aliases": nets[mode].get("Aliases") or []}}}
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("device")
    ap.add_argument("--no-follow", action="store_true", help="do not follow the log")
    opts = ap.parse_args()
    dev = Device(opts.device)

    arch = ARCHES.get(dev.docker("info", "--format", "{{.Architecture}}", timeout=30))
    if arch is None:
        die("the device's engine reports an architecture agentd is not built for")
    print("sync: device %s is %s" % (opts.device, arch), flush=True)
    archive = build(arch)
    out = dev.docker("load", "-i", archive, timeout=600)
    if "Loaded image:" not in out:
        die("the device's engine did not load %s: %s" % (archive, out))
    tag = out.split("Loaded image:", 1)[1].strip().splitlines()[0].strip()
    print("sync: loaded %s" % tag, flush=True)

    old = dev.docker("inspect", NAME, check=False)
    body = same_as(json.loads(old)[0], tag) if old.startswith("[") else start_script_body(tag)
    if old.startswith("["):
        dev.docker("stop", "-t", "10", NAME, check=False)
        dev.docker("rm", "-f", NAME)
    st, text = api(dev, "POST", "/containers/create?name=" + NAME, body)
    if st != 201:
        die("cannot create %s: %d %s" % (NAME, st, text))
    dev.docker("start", NAME)
    print("sync: %s runs %s (%s)" % (NAME, tag, json.loads(text)["Id"][:12]), flush=True)
    if opts.no_follow:
        return 0
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    dev.docker("logs", "-f", "--tail", "50", NAME, check=False, capture=False, timeout=None)
    return 0


def api(dev, method, path, body):
    """One Engine API call to the device (the CLI cannot create from a body)."""
    url = dev.host.replace("tcp://", "http://") + path
    p = subprocess.run(["curl", "-s", "-X", method, "-H", "Content-Type: application/json",
                        "-d", json.dumps(body), "-w", "\n%{http_code}", url],
                       capture_output=True, text=True, timeout=60)
    text, _, code = p.stdout.rpartition("\n")
    return int(code or 0), text


if __name__ == "__main__":
    sys.exit(main())

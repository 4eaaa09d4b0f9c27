#!/usr/bin/env python3
"""mkimage.py - the balenaOS supervisor image of agentd, from this tree's own binaries.

Usage: mkimage.py --build DIR --arch ARCH --tag NAME:TAG --out FILE.tar
                  [--sysroot DIR --triplet TRIPLET] [--iptables DIR]

Builds a `FROM scratch` image without a Docker daemon: one layer holding
  /usr/lib/agentd/{agentd,enginectl,apid,cloudsyncd}  (stripped; agentd finds its children
                                                       beside it)
  /usr/sbin/agentd -> ../lib/agentd/agentd
  every shared library they need (the ELF NEEDED entries, recursively, and libcurl,
  which cloudsyncd loads with dlopen) and the dynamic loader
  iptables-restore/ip6tables-restore (legacy, as balenaOS uses) with their modules
  the CA bundle, and a minimal /etc (passwd with nobody, group, nsswitch.conf)
and writes it as a `docker save` archive (manifest.json, config, layer), which
`docker load` takes. The image runs `agentd -f` in the foreground and has a
HEALTHCHECK on /v1/healthy (`agentd -H`, port LISTEN_PORT or 48484).
Libraries come from the build machine, or from --sysroot for another architecture
(`make image ARCH=arm64|armhf` passes build/sysroot-<arch>, its triplet and strip).
Prints the image's size, uncompressed and gzip'd.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

# balena's architecture names -> (Docker/OCI architecture, variant)
ARCHES = {"amd64": ("amd64", None), "aarch64": ("arm64", "v8"), "armv7hf": ("arm", "v7"),
          "i386": ("386", None), "rpi": ("arm", "v6")}

BINARIES = ("agentd", "enginectl", "apid", "cloudsyncd")
DLOPENED = ("libcurl.so.4",)  # cloudsyncd, on a managed device (common/http.c)


def readelf(args, path):
    return subprocess.run(["readelf", *args, path], capture_output=True, text=True,
                          check=True).stdout


def needed(path):
    return [line.split("[", 1)[1].split("]", 1)[0]
            for line in readelf(["-d"], path).splitlines() if "(NEEDED)" in line]


def interpreter(path):
    for line in readelf(["-l"], path).splitlines():
        if "Requesting program interpreter:" in line:
            return line.split(":", 1)[1].strip(" ]")
    return None


class Libs:
    """Finds libraries by soname in the (sys)root's library directories."""

    def __init__(self, sysroot, triplet):
        self.root = sysroot or "/"
        self.dirs = ["/lib/" + triplet, "/usr/lib/" + triplet, "/lib", "/usr/lib", "/lib64",
                     "/usr/lib64"]

    def host(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def find(self, soname):
        for d in self.dirs:
            p = os.path.join(d, soname)
            if os.path.exists(self.host(p)):
                return p
        raise SystemExit("mkimage: library %s not found under %s" % (soname, self.root))

    def closure(self, paths):
        """Image paths of every library the ELF files at host paths need."""
        out, todo = {}, list(paths)
        while todo:
            for so in needed(todo.pop()):
                if so in out:
                    continue
                out[so] = self.find(so)
                todo.append(self.host(out[so]))
        return out


class Layer:
    """A deterministic tar of the image's files (owner root, mtime 0)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.seen = set()

    def _info(self, name, kind, mode):
        ti = tarfile.TarInfo(name.lstrip("/"))
        ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = kind, mode, 0, 0, 0
        ti.uname = ti.gname = "root"
        return ti

    def dirs(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.seen:
                self.seen.add(d)
                self.tar.addfile(self._info(d, tarfile.DIRTYPE, 0o755))

    def dir(self, path, mode=0o755):
        self.dirs(path)  # its parents
        if path.strip("/") in self.seen:
            raise SystemExit("mkimage: %s is in the image twice" % path)
        self.seen.add(path.strip("/"))
        self.tar.addfile(self._info(path, tarfile.DIRTYPE, mode))

    def data(self, path, data, mode=0o644):
        self.dirs(path)
        ti = self._info(path, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def file(self, path, src, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        self.data(path, data, mode if mode is not None else os.stat(src).st_mode & 0o777)

    def link(self, path, target):
        self.dirs(path)
        ti = self._info(path, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


ETC = {
    "/etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    "/etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    "/etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--arch", default="amd64", choices=sorted(ARCHES))
    ap.add_argument("--tag", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sysroot", default=None)
    ap.add_argument("--triplet", default="x86_64-linux-gnu")
    ap.add_argument("--version", default="0")
    ap.add_argument("--strip", default="strip", help="the strip of the target architecture")
    a = ap.parse_args()

    libs = Libs(a.sysroot, a.triplet)
    layer = Layer()
    bins = [os.path.join(a.build, b) for b in BINARIES]
    for b in bins:
        if not os.access(b, os.X_OK):
            raise SystemExit("mkimage: %s not built" % b)
    with tempfile.TemporaryDirectory() as tmp:
        for b in bins:  # without their debug information
            out = os.path.join(tmp, os.path.basename(b))
            subprocess.run([a.strip, "--strip-unneeded", "-o", out, b], check=True)
            layer.file("/usr/lib/agentd/" + os.path.basename(b), out, 0o755)
    layer.link("/usr/sbin/agentd", "../lib/agentd/agentd")

    # iptables-restore, legacy (balenaOS 1.8.9 legacy), with its modules
    ipt = None
    for cand in ("/usr/sbin/xtables-legacy-multi", "/sbin/xtables-legacy-multi"):
        if os.path.exists(libs.host(cand)):
            ipt = cand
            break
    if ipt is None:
        raise SystemExit("mkimage: xtables-legacy-multi not found (Debian package iptables)")
    layer.file("/usr/sbin/xtables-legacy-multi", libs.host(ipt), 0o755)
    for name in ("iptables", "iptables-restore", "iptables-save", "ip6tables",
                 "ip6tables-restore", "ip6tables-save"):
        layer.link("/usr/sbin/" + name, "xtables-legacy-multi")
    elves = bins + [libs.host(ipt)]
    modules = None
    for d in libs.dirs:
        if os.path.isdir(libs.host(d + "/xtables")):
            modules = d + "/xtables"
            break
    if modules is None:
        raise SystemExit("mkimage: the iptables modules (xtables/) are not found")
    for m in sorted(os.listdir(libs.host(modules))):
        if m.endswith(".so"):
            layer.file(modules + "/" + m, libs.host(modules + "/" + m), 0o644)
            elves.append(libs.host(modules + "/" + m))

    found = libs.closure(elves)
    for so in DLOPENED:
        path = libs.find(so)
        found[so] = path
        found.update(libs.closure([libs.host(path)]))
    for so, path in sorted(found.items()):
        real = os.path.realpath(libs.host(path))
        layer.file(path, real, 0o755)
    interp = interpreter(bins[0])
    if interp and interp not in found.values():
        same = [p for p in found.values() if os.path.basename(p) == os.path.basename(interp)]
        if same:  # the loader is there already: its usual path points to it
            layer.link(interp, os.path.relpath(same[0], os.path.dirname(interp)))
        else:
            layer.file(interp, os.path.realpath(libs.host(interp)), 0o755)
    ca = libs.host("/etc/ssl/certs/ca-certificates.crt")
    if not os.path.exists(ca) and a.sysroot:
        # a sysroot unpacked without maintainer scripts has no bundle (ca-certificates'
        # postinst makes it); it is the same on every architecture: the build machine's
        ca = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(ca):
        raise SystemExit("mkimage: no CA bundle (Debian package ca-certificates)")
    layer.file("/etc/ssl/certs/ca-certificates.crt", ca, 0o644)
    for path, text in ETC.items():
        layer.data(path, text.encode())
    layer.dir("/tmp", 0o1777)
    for d in ("/data", "/mnt/root", "/var/run", "/var/log", "/run"):
        layer.dir(d)
    tar = layer.bytes()

    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    arch, variant = ARCHES[a.arch]
    config = {
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LED_FILE=/dev/null",
                    "SUPERVISOR_IMAGE=" + a.tag.rsplit(":", 1)[0]],
            "Cmd": ["/usr/sbin/agentd", "-f"],
            # what the balena supervisor's image checks, with agentd's own probe (no
            # wget in a scratch image); every 30 s rather than 5 min: the probe is cheap
            "Healthcheck": {"Test": ["CMD", "/usr/sbin/agentd", "-H"],
                            "Interval": 30 * 10**9, "Timeout": 10 * 10**9,
                            "StartPeriod": 60 * 10**9, "Retries": 3},
            "Labels": {"io.balena.agentd.version": a.version},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "agentd image/mkimage.py"}],
    }
    if variant:
        config["variant"] = variant
    cfg = json.dumps(config, sort_keys=True).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    layer_dir = diff_id[7:]
    manifest = [{"Config": cfg_name, "RepoTags": [a.tag], "Layers": [layer_dir + "/layer.tar"]}]

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 0, 0o644
            t.addfile(ti, io.BytesIO(data))
        add(cfg_name, cfg)
        add(layer_dir + "/layer.tar", tar)
        add("manifest.json", json.dumps(manifest).encode())
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "wb") as f:
        f.write(out.getvalue())
    gz = len(gzip.compress(tar, 6))
    print("image: %s (%s) %s: %.1f MB uncompressed, %.1f MB gzip, %d libraries"
          % (a.tag, a.arch, a.out, len(tar) / 1e6, gz / 1e6, len(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

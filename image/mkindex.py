#!/usr/bin/env python3
"""mkindex.py - one multi-arch OCI archive of agentd's supervisor images.

Usage: mkindex.py --out FILE.tar --version V IMAGE.tar...

Takes the per-architecture `docker load` archives `make image ARCH=...` writes
(image/mkimage.py: agentd/<arch>-supervisor:<version>, arch as balena names it:
amd64, i386, aarch64, armv7hf, rpi) and writes an OCI image layout as a tar (what
skopeo and buildah call an oci-archive) holding
  blobs/sha256/...   each image's config, its layer gzip'd, its manifest, and the
                     multi-arch index;
  index.json         the multi-arch index, named V (annotation
                     org.opencontainers.image.ref.name), and each architecture's
                     manifest with its platform, named <arch>-supervisor-V.
The index lists every manifest with the platform its config declares (os linux;
architecture amd64, 386, arm64 (variant v8), arm with variant v7 or v6), and the
platform must be the one the image's balena name stands for, or nothing is
written. Publish all of it with skopeo, e.g.
  skopeo copy --all oci-archive:FILE.tar:V docker://REGISTRY/agentd/supervisor:V
  skopeo copy oci-archive:FILE.tar:rpi-supervisor-V docker://REGISTRY/agentd/rpi-supervisor:V
and an engine pulling agentd/supervisor:V gets the image of its own platform.
Deterministic: the same images give the same bytes.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

# balena's architecture names -> the OCI platform (mkimage.py writes it in the config)
PLATFORMS = {"amd64": ("amd64", None), "i386": ("386", None), "aarch64": ("arm64", "v8"),
             "armv7hf": ("arm", "v7"), "rpi": ("arm", "v6")}
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def fail(msg):
    raise SystemExit("mkindex: " + msg)


class Layout:
    """The blobs of an OCI image layout, by digest."""

    def __init__(self):
        self.blobs = {}

    def add(self, media_type, data):
        """Stores data; its descriptor."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def add_json(self, media_type, obj):
        return self.add(media_type, json.dumps(obj, sort_keys=True,
                                               separators=(",", ":")).encode())

    def write(self, path, index):
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
            def entry(name, data=None):
                ti = tarfile.TarInfo(name)
                ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = 0, 0, 0, "root", "root"
                if data is None:
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    t.addfile(ti)
                else:
                    ti.size, ti.mode = len(data), 0o644
                    t.addfile(ti, io.BytesIO(data))
            entry("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            entry("index.json", json.dumps(index, sort_keys=True, indent=1).encode())
            entry("blobs")
            entry("blobs/sha256")
            for digest in sorted(self.blobs):
                entry("blobs/sha256/" + digest[7:], self.blobs[digest])
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(out.getvalue())
        os.replace(tmp, path)
        return len(out.getvalue())


def read_image(path):
    """(balena arch, config bytes, layer tar bytes) of a mkimage.py archive."""
    with tarfile.open(path) as t:
        manifest = json.load(t.extractfile("manifest.json"))
        if len(manifest) != 1 or len(manifest[0]["Layers"]) != 1:
            fail("%s: not one image of one layer (image/mkimage.py makes those)" % path)
        m = manifest[0]
        config = t.extractfile(m["Config"]).read()
        layer = t.extractfile(m["Layers"][0]).read()
    name = m["RepoTags"][0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
    if not name.endswith("-supervisor") or name[:-len("-supervisor")] not in PLATFORMS:
        fail("%s: image %s is not named <arch>-supervisor" % (path, m["RepoTags"][0]))
    return name[:-len("-supervisor")], config, layer


def platform_of(arch, config, path):
    """The OCI platform of an image's config, which must be its balena arch's."""
    cfg = json.loads(config)
    want_arch, want_variant = PLATFORMS[arch]
    if (cfg.get("os"), cfg.get("architecture"), cfg.get("variant")) != \
            ("linux", want_arch, want_variant):
        fail("%s: %s-supervisor's config says %s/%s/%s, not linux/%s/%s" % (
            path, arch, cfg.get("os"), cfg.get("architecture"), cfg.get("variant"),
            want_arch, want_variant))
    platform = {"os": "linux", "architecture": want_arch}
    if want_variant:
        platform["variant"] = want_variant
    return platform, cfg["rootfs"]["diff_ids"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("images", nargs="+")
    a = ap.parse_args()

    layout = Layout()
    entries, seen = [], set()
    for path in a.images:
        arch, config, layer = read_image(path)
        if arch in seen:
            fail("%s-supervisor given twice" % arch)
        seen.add(arch)
        platform, diff_ids = platform_of(arch, config, path)
        if diff_ids != ["sha256:" + hashlib.sha256(layer).hexdigest()]:
            fail("%s: the layer is not the one its config names" % path)
        packed = gzip.compress(layer, compresslevel=9, mtime=0)
        manifest = {"schemaVersion": 2, "mediaType": MANIFEST,
                    "config": layout.add(CONFIG, config),
                    "layers": [layout.add(LAYER, packed)]}
        desc = dict(layout.add_json(MANIFEST, manifest), platform=platform)
        entries.append((arch, desc, len(layer), len(packed)))

    multi = {"schemaVersion": 2, "mediaType": INDEX,
             "manifests": [desc for _, desc, _, _ in entries]}
    top = dict(layout.add_json(INDEX, multi), annotations={REF_NAME: a.version})
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [top] + [
        dict(desc, annotations={REF_NAME: "%s-supervisor-%s" % (arch, a.version)})
        for arch, desc, _, _ in entries]}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    size = layout.write(a.out, index)
    for arch, desc, raw, packed in entries:
        p = desc["platform"]
        print("index: %-8s %s/%s%s %s: %.1f MB uncompressed, %.1f MB gzip" % (
            arch, p["os"], p["architecture"], "/" + p["variant"] if "variant" in p else "",
            desc["digest"][:19], raw / 1e6, packed / 1e6))
    print("index: %s %s (%d architectures): %.1f MB" % (a.out, top["digest"][:19],
                                                         len(entries), size / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""index_check.py - the multi-arch index of agentd's supervisor images, proven.

What `make image-check` runs (the "images" suite of make check), on the OCI archive
`make image-index` wrote (image/mkindex.py):
  - the archive itself: every blob is what its descriptor says, index.json names the
    multi-arch index and the five <arch>-supervisor manifests, the index gives each
    image the platform of its config, and each image's agentd binary is code for that
    platform (ELF class, machine, float ABI, loader, and ARMv6 or older code for
    linux/arm/v6) with its loader in the image;
  - the checker has teeth: a copy with two platforms swapped, and one with an image
    left out, are refused;
  - a real registry and engine (the private pair of test/harness/engine-up.sh, or
    the one test/check.sh started): skopeo copies the whole index to Debian's
    docker-registry, which then serves it unchanged (same digest); each balena name
    (<arch>-supervisor) is pushed too and is the index's image of its platform; the
    engine pulls the index without a platform and gets linux/amd64, whose agentd is
    x86-64 code and runs (prints its usage); it pulls each other platform by
    --platform and gets that one, its agentd of that machine, which runs too: i386's
    natively, an ARM one in its container where the kernel hands ARM programs to
    qemu-user (binfmt_misc with the F flag), else by qemu-user on the image's files
    (its own loader and libraries); and the rpi image's agentd, loader and libraries
    run on qemu-user's ARMv6 CPU model (-cpu arm1176, the Pi Zero's and Pi 1's core),
    which refuses ARMv7 code.
Prints PASS/FAIL lines, then "images: N passed, N failed". Cleans up what it
made: the pulled images, the containers, the registry's manifests.
    usage: index_check.py ARCHIVE VERSION
"""
import copy
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from engine import engine  # noqa: E402  (the private engine and registry)

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
BINARY = "usr/lib/agentd/agentd"
EM_386, EM_ARM, EM_X86_64, EM_AARCH64 = 3, 40, 62, 183
EF_ARM_ABI_FLOAT_SOFT, EF_ARM_ABI_FLOAT_HARD = 0x200, 0x400
ARMV6_OR_OLDER = ("v4", "v4T", "v5T", "v5TE", "v5TEJ", "v6", "v6KZ", "v6T2", "v6K")
# balena's name -> the platform (os/architecture[/variant]) and what its code must be:
# ELF class (bits), machine, ARM float ABI flag, loader, ARM CPU architectures allowed
EXPECTED = {
    "amd64": ("linux/amd64", 64, EM_X86_64, None, "/lib64/ld-linux-x86-64.so.2", None),
    "i386": ("linux/386", 32, EM_386, None, "/lib/ld-linux.so.2", None),
    "aarch64": ("linux/arm64/v8", 64, EM_AARCH64, None, "/lib/ld-linux-aarch64.so.1", None),
    "armv7hf": ("linux/arm/v7", 32, EM_ARM, EF_ARM_ABI_FLOAT_HARD, "/lib/ld-linux-armhf.so.3",
                ("v7",)),
    "rpi": ("linux/arm/v6", 32, EM_ARM, EF_ARM_ABI_FLOAT_SOFT, "/lib/ld-linux.so.3",
            ARMV6_OR_OLDER),
}
BY_PLATFORM = {v[0]: k for k, v in EXPECTED.items()}
QEMU = {"linux/arm64/v8": "qemu-aarch64", "linux/arm/v7": "qemu-arm", "linux/arm/v6": "qemu-arm"}


def platform_str(p):
    return "/".join([p.get("os", "?"), p.get("architecture", "?")] +
                    ([p["variant"]] if p.get("variant") else []))


# ---- the archive ---------------------------------------------------------------------

def read_layout(path):
    """{name: bytes} of an OCI archive's files."""
    out = {}
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.isfile():
                out[m.name] = t.extractfile(m).read()
    return out


def blob(files, desc):
    """The blob a descriptor names, checked against its digest and size."""
    data = files.get("blobs/sha256/" + desc["digest"].split(":", 1)[1])
    if data is None:
        raise AssertionError("blob %s is not in the archive" % desc["digest"])
    if "sha256:" + hashlib.sha256(data).hexdigest() != desc["digest"]:
        raise AssertionError("blob %s does not have its digest" % desc["digest"])
    if len(data) != desc["size"]:
        raise AssertionError("blob %s: %d bytes, its descriptor says %d" % (
            desc["digest"], len(data), desc["size"]))
    return data


def elf_facts(data):
    """(bits, machine, e_flags, loader) of an ELF file."""
    if data[:4] != b"\x7fELF":
        raise AssertionError("not an ELF file")
    bits = {1: 32, 2: 64}[data[4]]
    end = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    if bits == 64:
        phoff, flags = struct.unpack_from(end + "Q", data, 32)[0], \
            struct.unpack_from(end + "I", data, 48)[0]
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
    else:
        phoff, flags = struct.unpack_from(end + "I", data, 28)[0], \
            struct.unpack_from(end + "I", data, 36)[0]
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
    loader = None
    for i in range(phnum):
        off = phoff + i * phentsize
        if struct.unpack_from(end + "I", data, off)[0] != 3:  # PT_INTERP
            continue
        if bits == 64:
            p_offset, p_filesz = struct.unpack_from(end + "Q", data, off + 8)[0], \
                struct.unpack_from(end + "Q", data, off + 32)[0]
        else:
            p_offset, p_filesz = struct.unpack_from(end + "I", data, off + 4)[0], \
                struct.unpack_from(end + "I", data, off + 16)[0]
        loader = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode()
    return bits, machine, flags, loader


def arm_cpu_arch(data):
    """Tag_CPU_arch of an ARM ELF file (readelf -A), e.g. v5TE or v7."""
    tmp = "/tmp/agentd-index-check.%d.elf" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(data)
    try:
        out = subprocess.run(["readelf", "-A", tmp], capture_output=True, text=True).stdout
    finally:
        os.unlink(tmp)
    for line in out.splitlines():
        if line.strip().startswith("Tag_CPU_arch:"):
            return line.split(":", 1)[1].strip()
    return None


def check_binary(arch, data, where):
    """agentd's code must be the code of balena's arch."""
    _, bits, machine, float_abi, loader, cpus = EXPECTED[arch]
    got = elf_facts(data)
    if got[0] != bits or got[1] != machine:
        raise AssertionError("%s: agentd is %d-bit code for ELF machine %d, %s needs %d-bit %d"
                             % (where, got[0], got[1], arch, bits, machine))
    if float_abi is not None and not got[2] & float_abi:
        raise AssertionError("%s: agentd's float ABI flags are %#x, %s needs %#x"
                             % (where, got[2] & 0xf00, arch, float_abi))
    if got[3] != loader:
        raise AssertionError("%s: agentd asks for loader %s, %s's is %s"
                             % (where, got[3], arch, loader))
    if cpus is not None:
        cpu = arm_cpu_arch(data)
        if cpu not in cpus:
            raise AssertionError("%s: agentd is %s code; %s runs %s" % (where, cpu, arch,
                                                                         "/".join(cpus)))


def layer_files(layer):
    """{path: (TarInfo, bytes or None)} of a gzip'd layer."""
    out = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as t:
        for m in t.getmembers():
            out[m.name] = (m, t.extractfile(m).read() if m.isfile() else None)
    return out


def named(files):
    """index.json's descriptors by their names."""
    index = json.loads(files["index.json"])
    return {d.get("annotations", {}).get(REF_NAME): d for d in index["manifests"]}


def verify_layout(files, version):
    """Everything an archive's index says, checked; {arch: manifest descriptor}.
    Raises AssertionError on the first wrong thing."""
    names = named(files)
    top = names.get(version)
    if top is None or top["mediaType"] != INDEX:
        raise AssertionError("index.json names no multi-arch index %s" % version)
    multi = json.loads(blob(files, top))
    platforms = [platform_str(d.get("platform", {})) for d in multi["manifests"]]
    if sorted(platforms) != sorted(v[0] for v in EXPECTED.values()):
        raise AssertionError("the index's platforms are %s" % ", ".join(platforms))
    out = {}
    for desc in multi["manifests"]:
        plat = platform_str(desc["platform"])
        arch = BY_PLATFORM[plat]
        if desc["mediaType"] != MANIFEST:
            raise AssertionError("%s: media type %s" % (plat, desc["mediaType"]))
        manifest = json.loads(blob(files, desc))
        config = json.loads(blob(files, manifest["config"]))
        declared = platform_str({"os": config.get("os"), "architecture":
                                 config.get("architecture"), "variant": config.get("variant")})
        if declared != plat:
            raise AssertionError("the index says %s for an image whose config says %s"
                                 % (plat, declared))
        layer = blob(files, manifest["layers"][0])
        diff_id = "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()
        if config["rootfs"]["diff_ids"] != [diff_id]:
            raise AssertionError("%s: the layer is not the one the config names" % plat)
        content = layer_files(layer)
        if BINARY not in content:
            raise AssertionError("%s: no /%s in the image" % (plat, BINARY))
        check_binary(arch, content[BINARY][1], "the index's " + plat)
        loader = EXPECTED[arch][4].lstrip("/")
        if loader not in content:
            raise AssertionError("%s: the loader /%s is not in the image" % (plat, loader))
        by_name = names.get("%s-supervisor-%s" % (arch, version))
        if by_name is None or by_name["digest"] != desc["digest"]:
            raise AssertionError("index.json does not name %s's manifest %s-supervisor-%s"
                                 % (plat, arch, version))
        out[arch] = desc
    return out


def rewrite(files, version, change):
    """A copy of the archive's files whose multi-arch index change(index) edited
    (index.json then points at the new index)."""
    files = dict(files)
    index = json.loads(files["index.json"])
    top = next(d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) == version)
    multi = json.loads(blob(files, top))
    change(multi)
    data = json.dumps(multi).encode()
    top["digest"] = "sha256:" + hashlib.sha256(data).hexdigest()
    top["size"] = len(data)
    files["blobs/sha256/" + top["digest"][7:]] = data
    files["index.json"] = json.dumps(index).encode()
    return files


# ---- the registry and the engine --------------------------------------------------------

class Remote:
    """The archive pushed to the engine's registry under a repository of its own,
    and what the engine pulled from there (both removed by clean())."""

    def __init__(self, archive, version):
        self.archive = archive
        self.version = version
        self.eng = engine()
        self.repo = "agentd-test/supervisor-" + secrets.token_hex(3)
        self.ref = "%s/%s:%s" % (self.eng.registry, self.repo, version)
        self.pushed = []  # (repo, digest) to delete
        self.images = set()  # the ids of what it pulled

    def docker_env(self):
        """The docker CLI's environment for the engine (engine.py's, for what it
        streams rather than returns)."""
        env = dict(os.environ, DOCKER_HOST="unix://" + self.eng.sock)
        if self.eng.statedir:
            env["DOCKER_CONFIG"] = os.path.join(self.eng.statedir, "cli")
        return env

    def skopeo(self, src, dest, *flags):
        p = subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", *flags,
                            "--dest-tls-verify=false", "oci-archive:%s:%s" % (self.archive, src),
                            "docker://" + dest], capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError("skopeo copy %s: %s" % (src, p.stderr.strip()[-400:]))

    def manifest(self, repo, ref):
        """(Docker-Content-Digest, media type, body) of the registry's manifest."""
        req = urllib.request.Request(
            "http://%s/v2/%s/manifests/%s" % (self.eng.registry, repo, ref),
            headers={"Accept": ", ".join([INDEX, MANIFEST])})
        with urllib.request.urlopen(req, timeout=30) as r:
            return (r.headers["Docker-Content-Digest"], r.headers["Content-Type"],
                    r.read())

    def pull(self, platform=None):
        """Pulls the index (for platform); its image's Architecture, Variant, Os."""
        args = ["pull", "-q"] + (["--platform", platform] if platform else []) + [self.ref]
        self.eng.docker(*args, timeout=300)
        got = json.loads(self.eng.docker("image", "inspect", self.ref))[0]
        self.images.add(got["Id"])  # each platform's: a later pull takes the tag
        return platform_str({"os": got.get("Os"), "architecture": got.get("Architecture"),
                             "variant": got.get("Variant")})

    def binary(self, platform):
        """agentd's bytes from the pulled image (docker create + cp; nothing runs)."""
        cid = self.eng.docker("create", "--platform", platform, self.ref, "/usr/sbin/agentd")
        try:
            env = self.docker_env()
            p = subprocess.run(["docker", "cp", cid + ":/" + BINARY, "-"], env=env,
                               capture_output=True, timeout=60)
            if p.returncode != 0:
                raise AssertionError("docker cp: " + p.stderr.decode()[-300:])
            with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
                return t.extractfile(t.getmembers()[0]).read()
        finally:
            self.eng.docker("rm", "-f", cid, check=False)

    def run_usage(self, platform):
        """Runs the image's agentd with a wrong flag: it must print its usage."""
        env = self.docker_env()
        p = subprocess.run(["docker", "run", "--rm", "--network", "none", "--platform", platform,
                            self.ref, "/usr/sbin/agentd", "-x"], env=env, capture_output=True,
                           text=True, timeout=120)
        if p.returncode != 1 or "usage: agentd" not in p.stderr:
            raise AssertionError("agentd -x in the %s image: exit %d, %s" % (
                platform, p.returncode, (p.stdout + p.stderr).strip()[-300:]))

    def run_usage_qemu(self, platform, cpu=None):
        """The same by qemu-user (on a CPU model if given) on the image's files,
        exported: its agentd, its loader and libraries, nothing of this machine's."""
        qemu = [QEMU[platform] + "-static"] + (["-cpu", cpu] if cpu else [])
        root = tempfile.mkdtemp(prefix="agentd-index-check.")
        cid = self.eng.docker("create", "--platform", platform, self.ref, "/usr/sbin/agentd")
        try:
            env = self.docker_env()
            p = subprocess.run(["docker", "export", cid], env=env, capture_output=True,
                               timeout=120)
            if p.returncode != 0:
                raise AssertionError("docker export: " + p.stderr.decode()[-300:])
            with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
                if hasattr(tarfile, "tar_filter"):  # Python >= 3.11.4: say what it is
                    t.extractall(root, filter="tar")
                else:
                    t.extractall(root)
            p = subprocess.run(qemu + ["-L", root, root + "/" + BINARY, "-x"],
                               capture_output=True, text=True, timeout=120)
            if p.returncode != 1 or "usage: agentd" not in p.stderr:
                raise AssertionError("%s on the %s image's agentd -x: exit %d, %s" % (
                    " ".join(qemu), platform, p.returncode,
                    (p.stdout + p.stderr).strip()[-300:]))
        finally:
            self.eng.docker("rm", "-f", cid, check=False)
            shutil.rmtree(root, ignore_errors=True)

    def clean(self):
        for image in self.images:
            self.eng.docker("rmi", "-f", image, check=False)
        for repo, digest in self.pushed:
            req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (
                self.eng.registry, repo, digest), method="DELETE")
            try:
                urllib.request.urlopen(req, timeout=30).close()
            except OSError:
                pass


def binfmt_runs(platform):
    """Whether this kernel runs platform's programs (qemu-user through binfmt_misc,
    with F: the emulator is found from inside a container too)."""
    h = QEMU.get(platform)
    if h is None:
        return True
    try:
        with open("/proc/sys/fs/binfmt_misc/" + h) as f:
            text = f.read()
    except OSError:
        return False
    flags = [line.split(":", 1)[1].strip() for line in text.splitlines()
             if line.startswith("flags:")]
    return text.startswith("enabled") and bool(flags) and "F" in flags[0]


# ---- the checks ----------------------------------------------------------------------

def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1])
        return 2
    archive, version = sys.argv[1], sys.argv[2]
    passed = failed = 0
    state = {}

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print("PASS " + name)
        except Exception as e:  # a failed check, whatever broke
            failed += 1
            print("FAIL %s: %s" % (name, " ".join(str(e).split())[:600] or repr(e)))
            if os.environ.get("VERBOSE"):
                traceback.print_exc()

    try:
        state["files"] = read_layout(archive)
    except (OSError, tarfile.TarError) as e:
        print("FAIL reading %s: %s (make image-index)" % (archive, e))
        print("images: 0 passed, 1 failed")
        return 1
    check("the_archive_lists_five_platforms_each_with_its_own_code",
          lambda: verify_layout(state["files"], version))

    def refused(change, what):
        try:
            verify_layout(rewrite(state["files"], version, change), version)
        except AssertionError as e:
            return str(e)
        raise AssertionError("an index with %s passed the check" % what)

    def swapped(multi):
        v6 = next(d for d in multi["manifests"] if d["platform"].get("variant") == "v6")
        v7 = next(d for d in multi["manifests"] if d["platform"].get("variant") == "v7")
        v6["platform"], v7["platform"] = copy.deepcopy(v7["platform"]), copy.deepcopy(
            v6["platform"])

    def dropped(multi):
        multi["manifests"] = [d for d in multi["manifests"]
                              if d["platform"]["architecture"] != "386"]

    check("an_index_with_v6_and_v7_swapped_is_refused",
          lambda: refused(swapped, "linux/arm/v6 and v7 swapped"))
    check("an_index_without_i386_is_refused", lambda: refused(dropped, "no linux/386"))

    remote = None
    try:
        def push():
            nonlocal remote
            remote = Remote(archive, version)
            remote.skopeo(version, remote.ref, "--all")
            digest, mtype, body = remote.manifest(remote.repo, version)
            remote.pushed.append((remote.repo, digest))
            want = named(state["files"])[version]["digest"]
            if digest != want or mtype != INDEX:
                raise AssertionError("the registry serves %s (%s), the archive's index is %s"
                                     % (digest, mtype, want))
            got = sorted(platform_str(d["platform"]) for d in json.loads(body)["manifests"])
            if got != sorted(v[0] for v in EXPECTED.values()):
                raise AssertionError("the registry's index lists " + ", ".join(got))
        check("skopeo_pushes_the_whole_index_and_the_registry_serves_it_unchanged", push)

        def balena_names():
            if remote is None or not remote.pushed:
                raise AssertionError("nothing was pushed")
            _, _, body = remote.manifest(remote.repo, version)
            in_index = {platform_str(d["platform"]): d["digest"]
                        for d in json.loads(body)["manifests"]}
            for arch in sorted(EXPECTED):
                repo = "%s/%s-supervisor" % (remote.repo, arch)
                remote.skopeo("%s-supervisor-%s" % (arch, version),
                              "%s/%s:%s" % (remote.eng.registry, repo, version))
                digest, _, _ = remote.manifest(repo, version)
                remote.pushed.append((repo, digest))
                platform = EXPECTED[arch][0]
                if digest != in_index.get(platform):
                    raise AssertionError("%s-supervisor is %s, the index's %s image is %s" % (
                        arch, digest, platform, in_index.get(platform)))
        check("each_balena_name_is_the_index_image_of_its_platform", balena_names)

        def default_pull():
            if remote is None or not remote.pushed:
                raise AssertionError("nothing was pushed")
            got = remote.pull()
            if got != "linux/amd64":
                raise AssertionError("the engine got %s from the index" % got)
            check_binary("amd64", remote.binary("linux/amd64"), "the pulled image")
            remote.run_usage("linux/amd64")
        check("the_engine_pulls_the_index_and_gets_the_amd64_image_which_runs", default_pull)

        for arch in ("i386", "aarch64", "armv7hf", "rpi"):
            platform = EXPECTED[arch][0]

            def platform_pull(arch=arch, platform=platform):
                if remote is None or not remote.pushed:
                    raise AssertionError("nothing was pushed")
                got = remote.pull(platform)
                if got != platform:
                    raise AssertionError("asked for %s, the engine got %s" % (platform, got))
                check_binary(arch, remote.binary(platform), "the pulled image")
                state["pulled"] = platform
            check("the_engine_pulls_%s_by_platform_and_gets_its_code" % arch, platform_pull)

            def platform_run(platform=platform):
                if state.get("pulled") != platform:
                    raise AssertionError("%s was not pulled" % platform)
                if binfmt_runs(platform):
                    remote.run_usage(platform)
                else:  # the image's files, its own loader and libraries, on qemu-user
                    remote.run_usage_qemu(platform)
            check("its_agentd_runs_in_the_%s_image" % arch, platform_run)
            if arch == "rpi":  # the Pi Zero's and Pi 1's core: ARMv6 code throughout
                check("the_rpi_images_agentd_and_libraries_run_on_an_arm1176_cpu",
                      lambda: remote.run_usage_qemu(platform, cpu="arm1176"))
    finally:
        if remote is not None:
            remote.clean()
    print("images: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

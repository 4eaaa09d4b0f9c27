#!/usr/bin/env python3
"""bench_arm.py - figures for the other architectures' builds (printed, not asserted).

Per architecture (amd64 = this machine's build/, arm64, armhf, rpi and i386 =
build/<arch>/, made here with `make ARCH=<arch> all` when needed): the size of each
binary as built and stripped; then, in a full-system VM of each architecture
(test/arm/vm-check.sh with BENCH=5: qemu-system TCG, the same Debian recipe and 2 vCPUs
for all, so only the ratios mean something; rpi is its armel root on the armhf VM's
ARMv7 kernel and CPU), the time from exec of agentd to the first answered /ping, median
of 5 starts with min and max, and its ratio to amd64's under the same emulator; and
i386 against amd64 natively, on this machine's kernel (i386-check.sh's root, each in a
private network namespace).
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = ("agentd", "enginectl", "apid", "cloudsyncd")
ARCHES = {"amd64": ("build", "strip"), "arm64": ("build/arm64", "aarch64-linux-gnu-strip"),
          "armhf": ("build/armhf", "arm-linux-gnueabihf-strip"),
          "rpi": ("build/rpi", "arm-linux-gnueabi-strip"),
          "i386": ("build/i386", "i686-linux-gnu-strip")}
VMS = ("amd64", "arm64", "armhf", "rpi")
RUNS = 5


def sh(*args, **kw):
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, **kw)


def sizes(arch):
    build, strip = ARCHES[arch]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for b in BINARIES:
            path = os.path.join(ROOT, build, b)
            s = os.path.join(tmp, b)
            sh(strip, "-o", s, path, check=True)
            out.append((b, os.path.getsize(path), os.path.getsize(s)))
    return out


def bench_ms(arch, r):
    """The BENCH lines of a run (subprocess result), or None with a line why."""
    ms = [int(m) for m in re.findall(r"^bench: exec to first /ping: (\d+) ms$", r.stdout, re.M)]
    if len(ms) != RUNS:
        print("  %s: no figures (exit %d): %s" % (arch, r.returncode,
              (r.stdout + r.stderr).strip().splitlines()[-1:]))
        return None
    return ms


def ping_times(arch):
    r = sh("sh", "test/arm/vm-check.sh", arch, env=dict(os.environ, BENCH=str(RUNS)))
    boot = re.search(r"boot to vm-init ([0-9.]+) s", r.stdout)
    return bench_ms(arch, r), boot.group(1) if boot else "?"


def native_ping_times(arch):
    """On this machine's kernel, in a private network namespace (port 48484 is
    the namespace's own): amd64 from build/, i386 in its root (i386-check.sh)."""
    env = dict(os.environ, BENCH=str(RUNS))
    if arch == "i386":
        return bench_ms(arch, sh("sh", "test/arm/i386-check.sh", env=env))
    return bench_ms(arch, sh("unshare", "--net", "sh", "-c", "ip link set lo up && ARCH=amd64 "
                             "BUILD=build NATIVE=1 exec sh test/arm/vm-tests.sh", env=env))


def print_times(arch, ms, base, what):
    med = statistics.median(ms)
    ratio = " (%.2fx amd64)" % (med / base) if base and arch != "amd64" else ""
    print("  %-6s median %d ms, min %d, max %d%s%s" % (arch, med, min(ms), max(ms), ratio, what))
    return med


def main():
    for arch in ("arm64", "armhf", "rpi", "i386"):
        r = sh("make", "--no-print-directory", "ARCH=" + arch, "all")
        if r.returncode != 0:
            print("bench_arm: make ARCH=%s all failed:\n%s" % (arch, r.stdout[-2000:] + r.stderr))
            return 1
    print("== binary sizes (bytes: as built, with debug info / stripped)")
    for arch in ARCHES:
        got = sizes(arch)
        print("  %-6s %s" % (arch, "  ".join("%s %d/%d" % s for s in got)))
        total = sum(s[2] for s in got)
        print("  %-6s stripped total: %.2f MB" % (arch, total / 1e6))
    print("== exec -> first /ping in a VM (qemu-system TCG, 2 vCPUs, %d starts)" % RUNS)
    base = None
    for arch in VMS:
        ms, boot = ping_times(arch)
        if ms is not None:
            med = print_times(arch, ms, base, "; VM boot to init %s s" % boot)
            base = base or (med if arch == "amd64" else None)
    print("== exec -> first /ping natively (this machine's kernel, %d starts)" % RUNS)
    base = None
    for arch in ("amd64", "i386"):
        ms = native_ping_times(arch)
        if ms is not None:
            med = print_times(arch, ms, base, "")
            base = base or (med if arch == "amd64" else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

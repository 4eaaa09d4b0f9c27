#!/usr/bin/env python3
"""bench_arm.py - figures for the ARM builds (printed, not asserted).

Per architecture (amd64 = this machine's build/, arm64 and armhf = build/<arch>/, made
here with `make ARCH=<arch> all` when needed): the size of each binary as built and
stripped; then, in a full-system VM of each architecture (test/arm/vm-check.sh with
BENCH=5: qemu-system TCG, the same Debian recipe and 2 vCPUs for all three, so only the
ratios mean something), the time from exec of agentd to the first answered /ping,
median of 5 starts with min and max, and its ratio to amd64's under the same emulator.
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
          "armhf": ("build/armhf", "arm-linux-gnueabihf-strip")}
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


def ping_times(arch):
    r = sh("sh", "test/arm/vm-check.sh", arch, env=dict(os.environ, BENCH=str(RUNS)))
    ms = [int(m) for m in re.findall(r"^bench: exec to first /ping: (\d+) ms$", r.stdout, re.M)]
    boot = re.search(r"boot to vm-init ([0-9.]+) s", r.stdout)
    if len(ms) != RUNS:
        print("  %s: no figures (vm-check.sh exit %d): %s" % (arch, r.returncode,
              (r.stdout + r.stderr).strip().splitlines()[-1:]))
        return None, None
    return ms, boot.group(1) if boot else "?"


def main():
    for arch in ("arm64", "armhf"):
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
    for arch in ARCHES:
        ms, boot = ping_times(arch)
        if ms is None:
            continue
        med = statistics.median(ms)
        base = base or (med if arch == "amd64" else None)
        ratio = " (%.2fx amd64)" % (med / base) if base and arch != "amd64" else ""
        print("  %-6s median %d ms, min %d, max %d%s; VM boot to init %s s"
              % (arch, med, min(ms), max(ms), ratio, boot))
    return 0


if __name__ == "__main__":
    sys.exit(main())

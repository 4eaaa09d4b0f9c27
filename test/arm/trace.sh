#!/bin/sh
# trace.sh - the syscalls each child makes once sandboxed on ARCH, from qemu-user's
# -strace of the real binaries (build/ARCH) running test/arm/workload.py, RUNS times
# (one trace is not enough: which calls happen depends on timing). qemu-user cannot
# load seccomp filters, so trace-shim.so stands in for libseccomp and marks where the
# filter would be loaded. The union is compared with the allow-lists for ARCH by
# test/arm/syscalls.py; traces stay in build/ARCH/trace/. A development tool (the
# proof on a real kernel is vm-check.sh): run it after changing what a child does.
#   usage: trace.sh arm64|armhf [RUNS]
# Needs binfmt_misc with qemu-user-static's handlers (test/arm/binfmt.sh).
set -eu
arch=$1 runs=${2:-3}
cd "$(dirname "$0")/../.."
case $arch in
arm64) triplet=aarch64-linux-gnu qemu=qemu-aarch64-static ;;
armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm-static ;;
*) echo "trace: ARCH is arm64 or armhf" >&2; exit 2 ;;
esac
sh test/arm/binfmt.sh
root=$(pwd) build=build/$arch out=build/$arch/trace sysroot=$(pwd)/build/sysroot-$arch
rm -rf "$out"/run*
mkdir -p "$out"
"$triplet-gcc" --sysroot="$sysroot" -std=gnu11 -O2 -Wall -Wextra -Werror -shared -fPIC \
	-o "$out/trace-shim.so" test/arm/trace-shim.c
i=1
while [ "$i" -le "$runs" ]; do
	d=$out/run$i
	rm -rf "$d" && mkdir -p "$d"
	echo "trace: $arch run $i"
	# agentd runs under qemu without tracing; its children, started through
	# binfmt, find QEMU_STRACE and the shim in the environment qemu gave agentd,
	# and trace to their stderr, which agentd logs under their names.
	AGENTD_BUILD=$build AGENTD_TIMEOUT_SCALE=${AGENTD_TIMEOUT_SCALE:-4} python3 test/arm/workload.py \
		--out "$d/agentd.log" --prefix "$qemu -L $sysroot -E QEMU_STRACE=1 -E QEMU_LD_PREFIX=$sysroot \
		-E LD_PRELOAD=$root/$out/trace-shim.so" || true
	i=$((i + 1))
done
python3 test/arm/syscalls.py trace "$arch" "$out"/run*

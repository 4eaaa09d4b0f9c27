#!/bin/sh
# vm-check.sh - the proof on a real ARM kernel for one architecture: builds
# (or finds cached) the test VM of ARCH, boots it with the repository shared
# over 9p, and runs test/arm/vm-tests.sh inside on build/ARCH (made before by
# `make ARCH=ARCH all test-build`; `make arm-check` does both arches).
#   usage: vm-check.sh arm64|armhf|rpi|amd64
# BENCH=N or STRACE=1 run the other modes of vm-tests.sh instead (amd64 is for
# the bench: the same recipe under the same emulator, to compare).
# Prints the in-VM output, the time each step took, and ends with the VM's
# "<arch>: N passed, N failed" line (one failure if the VM did not finish).
set -u
arch=$1
cd "$(dirname "$0")/../.." || exit 1
build=build/$arch
[ "$arch" = "$(dpkg --print-architecture)" ] && build=build
vm=build/vm-$arch
run=$build/vm/run.sh
if [ -n "${BENCH:-}" ] && [ -x "$build/agentd" ]; then
	: # the bench needs the release build only
elif [ ! -x "$build/test/agentd" ] || [ ! -d "$build/test/unit" ]; then
	echo "vm-check: $build is not built: make ARCH=$arch all test-build"
	echo "$arch: 0 passed, 1 failed"
	exit 1
fi
t0=$(date +%s)
if ! bash test/arm/vm-build.sh "$arch" "$vm"; then
	echo "$arch: 0 passed, 1 failed"
	exit 1
fi
t1=$(date +%s)
mkdir -p "$build/vm"
printf 'ARCH=%s BUILD=%s BENCH=%s STRACE=%s exec sh test/arm/vm-tests.sh\n' "$arch" "$build" \
	"${BENCH:-}" "${STRACE:-}" > "$run"
bash test/arm/run-vm.sh "$arch" "$vm" . "$run"
rc=$?
t2=$(date +%s)
[ -f "$run.out" ] && cat "$run.out"
boot=$(sed -n 's/^vm-init: up at \([0-9.]*\) s.*/\1/p' "$run.console" 2>/dev/null)
echo "vm-check: $arch: VM image $((t1 - t0)) s, boot to vm-init ${boot:-?} s," \
	"boot + tests + poweroff $((t2 - t1)) s"
[ -n "${BENCH:-}${STRACE:-}" ] && exit "$rc"
if ! grep -q "^$arch: [0-9]* passed, [0-9]* failed$" "$run.out" 2>/dev/null; then
	echo "vm-check: the VM did not finish its tests (status $rc); console: $run.console"
	echo "$arch: 0 passed, 1 failed"
	exit 1
fi
exit "$rc"

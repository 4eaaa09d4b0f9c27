#!/bin/sh
# user-check.sh - rpi's unit tests on an emulated ARMv6 CPU: build/rpi's unit
# tests (Debian armel code) run under qemu-user with `-cpu arm1176`, the
# Raspberry Pi Zero's and Pi 1's core, and the sysroot's libraries. QEMU
# refuses to load seccomp filters (PR_SET_SECCOMP), so the tests that load
# one skip here (AGENTD_UNIT_QEMU_USER=1); the rpi VM runs them on a real
# kernel (vm-check.sh rpi). First, that the CPU model is strict: an armhf
# (ARMv7) unit test must die of an illegal instruction on it, so a pass
# here means ARMv6 code.
#   usage: user-check.sh     (after make ARCH=rpi all, and ARCH=armhf all)
# Ends with "armv6: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
qemu="qemu-arm-static -cpu arm1176"
command -v qemu-arm-static >/dev/null || { echo "armv6: qemu-user-static missing (make deps)"; \
	echo "armv6: 0 passed, 1 failed"; exit 1; }
if [ ! -d build/rpi/test/unit ]; then
	echo "user-check: build/rpi is not built: make ARCH=rpi all"
	echo "armv6: 0 passed, 1 failed"
	exit 1
fi
pass=0 fail=0
v7=build/armhf/test/unit/common/test_frame
if [ -x "$v7" ]; then
	$qemu -L build/sysroot-armhf "$v7" > /dev/null 2>&1
	rc=$?
	# 132: SIGILL (the shell's 128 + 4); qemu-user exits so for a guest's SIGILL
	if [ "$rc" = 132 ]; then
		pass=$((pass + 1)); echo "ok   an ARMv7 program dies of SIGILL on -cpu arm1176"
	else
		fail=$((fail + 1)); echo "FAIL an ARMv7 program ran on -cpu arm1176 (exit $rc)"
	fi
fi
t=$(date +%s)
AGENTD_UNIT_QEMU_USER=1 RUN_PREFIX="$qemu -L build/sysroot-rpi" \
	sh test/run-unit.sh build/rpi/test/unit/*/* > build/rpi/user-check.out 2>&1
sed 's/^/  /' build/rpi/user-check.out
u=$(sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' build/rpi/user-check.out)
if [ -n "$u" ]; then
	pass=$((pass + ${u% *})) fail=$((fail + ${u#* }))
else
	fail=$((fail + 1)); echo "FAIL the unit tests gave no summary"
fi
echo "user-check: rpi unit tests on qemu-user -cpu arm1176: $(($(date +%s) - t)) s" \
	"(those that load a seccomp filter skip here: the rpi VM runs them)"
echo "armv6: $pass passed, $fail failed"
[ "$fail" = 0 ]

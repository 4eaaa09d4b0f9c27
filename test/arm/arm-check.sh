#!/bin/sh
# arm-check.sh - what `make arm-check` runs: the cross builds of the other four
# architectures balena ships for (arm64, armhf, rpi, i386: binaries, unit tests,
# the test build), then the proof on their kernels and CPUs:
#   - arm64, armhf and rpi in a VM each (vm-check.sh: image cached in
#     build/vm-<arch>/; rpi's armel root on armhf's ARMv7 kernel), all three at
#     once (TCG: each keeps a core busy): the unit tests and the smoke and
#     workload of vm-tests.sh (the children's filters and agentd's own);
#   - rpi's unit tests on an emulated ARMv6 CPU (user-check.sh: qemu-user
#     -cpu arm1176);
#   - i386 on this machine's own kernel (i386-check.sh: a root of i386
#     packages in private namespaces), the same unit tests, smoke and workload.
# First, all at once: the four cross builds (a cold one unpacks its sysroot
# first) and the VM images and i386 root (vm-build.sh; made again only when
# their recipe changes): cold, most of this is waiting for Debian's mirror.
# Prints each one's output in turn (indented), the time of every step, and ends
# with the summary lines "arm64: ...", "armhf: ...", "rpi: ...", "armv6: ..." and
# "i386: N passed, N failed" (test/check.sh adds them up).
set -u
cd "$(dirname "$0")/../.." || exit 1
mkdir -p build
now() { date +%s; }
status=0
ARCHES="arm64 armhf rpi i386"
VMS="arm64 armhf rpi"
t0=$(now)
pids=
for a in $ARCHES; do
	rm -f "build/arm-check-$a.built"
	(
		t=$(now)
		if make --no-print-directory ARCH=$a -j2 all test-build > "build/arm-check-$a.log" 2>&1
		then
			echo "arm-check: $a cross build (sysroot included) $(($(now) - t)) s"
			echo ok > "build/arm-check-$a.built"
		else
			tail -n 30 "build/arm-check-$a.log" | sed 's/^/  /'
			echo "arm-check: $a cross build failed (build/arm-check-$a.log)"
		fi
	) > "build/arm-check-$a.step" 2>&1 &
	pids="$pids $!"
	# its VM image or root, unless cached (vm-check.sh and i386-check.sh see it is)
	(
		t=$(now)
		if bash test/arm/vm-build.sh $a build/vm-$a > "build/arm-check-$a.image.log" 2>&1
		then
			echo "arm-check: $a VM image or root $(($(now) - t)) s:" \
				"$(tail -n 1 "build/arm-check-$a.image.log")"
		else
			tail -n 30 "build/arm-check-$a.image.log" | sed 's/^/  /'
			echo "arm-check: $a VM image failed (build/arm-check-$a.image.log)"
		fi
	) > "build/arm-check-$a.image.step" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p"; done
for a in $ARCHES; do cat "build/arm-check-$a.step" "build/arm-check-$a.image.step"; done
rm -f build/arm-check-*.step
echo "arm-check: the cross builds and VM images, all at once $(($(now) - t0)) s"
t=$(now)
pids=
for a in $VMS; do
	if [ -f "build/arm-check-$a.built" ]; then
		sh test/arm/vm-check.sh $a > "build/arm-check-$a.vm.log" 2>&1 &
		pids="$pids $!"
	fi
done
for p in $pids; do wait "$p" || status=1; done
echo "arm-check: the three VMs (boot, tests) $(($(now) - t)) s"
# rpi's unit tests on an ARMv6 CPU, and i386 here: after the VMs, which keep
# both cores busy
t=$(now)
if [ -f build/arm-check-rpi.built ]; then
	sh test/arm/user-check.sh > build/arm-check-armv6.vm.log 2>&1 || status=1
else
	echo "armv6: 0 passed, 1 failed" > build/arm-check-armv6.vm.log
fi
echo "arm-check: rpi's unit tests on qemu-user -cpu arm1176 $(($(now) - t)) s"
t=$(now)
if [ -f build/arm-check-i386.built ]; then
	sh test/arm/i386-check.sh > build/arm-check-i386.vm.log 2>&1 || status=1
fi
echo "arm-check: i386 on this machine's kernel (root, tests) $(($(now) - t)) s"
for a in arm64 armhf rpi armv6 i386; do
	echo "== $a"
	# indented: only the summary lines below start a line (test/check.sh
	# adds up every "<name>: N passed, N failed", the VM's unit line too)
	grep -v "^$a: [0-9]* passed, [0-9]* failed$" "build/arm-check-$a.vm.log" 2>/dev/null |
		sed 's/^/  /'
done
# The summary lines last, for test/check.sh.
for a in arm64 armhf rpi armv6 i386; do
	b=$a
	[ "$a" = armv6 ] && b=rpi # rpi's build, on qemu-user
	built=build/arm-check-$b.built
	line=$(grep "^$a: [0-9]* passed, [0-9]* failed$" "build/arm-check-$a.vm.log" 2>/dev/null)
	[ -f "$built" ] || line=
	echo "${line:-$a: 0 passed, 1 failed}"
	case $line in *" 0 failed") ;; *) status=1 ;; esac
done
rm -f build/arm-check-*.built
exit $status

#!/bin/sh
# arm-check.sh - what `make arm-check` runs: the arm64 and armhf cross builds
# (binaries, unit tests, the test build), then the proof on real ARM kernels:
# each architecture's VM (vm-check.sh: image cached in build/vm-<arch>/) runs
# the unit tests and the smoke of vm-tests.sh. The two VMs run at the same
# time (TCG: each keeps a core busy; together they take about as long as the
# slower one). Prints each VM's output in turn (indented), the time of every
# step, and ends with "arm64: N passed, N failed" and "armhf: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
mkdir -p build
now() { date +%s; }
status=0
for a in arm64 armhf; do
	t=$(now)
	if make --no-print-directory ARCH=$a -j2 all test-build > "build/arm-check-$a.log" 2>&1; then
		echo "arm-check: $a cross build (sysroot included) $(($(now) - t)) s"
		echo ok > "build/arm-check-$a.built"
	else
		tail -n 30 "build/arm-check-$a.log" | sed 's/^/  /'
		echo "arm-check: $a cross build failed (build/arm-check-$a.log)"
		rm -f "build/arm-check-$a.built"
	fi
done
t=$(now)
pids=
for a in arm64 armhf; do
	if [ -f "build/arm-check-$a.built" ]; then
		sh test/arm/vm-check.sh $a > "build/arm-check-$a.vm.log" 2>&1 &
		pids="$pids $!"
	fi
done
for p in $pids; do wait "$p" || status=1; done
echo "arm-check: both VMs (image, boot, tests) $(($(now) - t)) s"
for a in arm64 armhf; do
	echo "== $a"
	if [ -f "build/arm-check-$a.built" ]; then
		# indented: only the summary lines below start a line (test/check.sh
		# adds up every "<name>: N passed, N failed", the VM's unit line too)
		grep -v "^$a: [0-9]* passed, [0-9]* failed$" "build/arm-check-$a.vm.log" |
			sed 's/^/  /'
	fi
done
# The summary lines last, for test/check.sh.
for a in arm64 armhf; do
	line=$(grep "^$a: [0-9]* passed, [0-9]* failed$" "build/arm-check-$a.vm.log" 2>/dev/null)
	[ -f "build/arm-check-$a.built" ] || line=
	echo "${line:-$a: 0 passed, 1 failed}"
	case $line in *" 0 failed") ;; *) status=1 ;; esac
	rm -f "build/arm-check-$a.built"
done
exit $status
